"""Where a server's CPU goes under load: py-spy on the worker, summed by phase and function."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

from bench import load
from bench.processes import established
from bench.runner import Benchmark
from bench.settings import CLIENTS, CONFIGS, ROOT, VENV_BIN, log


def profile(bench: Benchmark, key: str, rate: int, seconds: float, idle: bool = False) -> str:
    """py-spy on the server process while the loadgen offers `rate` deliveries/s in fan-out;
    the summary as markdown (the raw stacks stay in the run's folder)."""
    config = next(c for c in CONFIGS if c.key == key)
    if config.kind == "node":
        raise SystemExit("--profile is for this server's configurations, not Node")
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        raise SystemExit(f"{py_spy} is missing: `make install-test` installs it")
    bench.prepare_databases([config])
    tokens = bench.tokens[key]
    server = bench.make_server(config, bench.urls[key], "profile")
    raw_path = bench.logs / f"profile-{key}-{rate}{'-idle' if idle else ''}.txt"
    loadgen_result: dict = {}

    def run_load() -> None:
        try:
            loadgen_result.update(
                load.steady(
                    bench.loadgen,
                    server,
                    tokens,
                    rate,
                    warmup=3,
                    duration=seconds + 4,
                    timeout=60 + seconds,
                    log_path=bench.logs / f"loadgen-{key}-profile.log",
                )
            )
        except load.LoadgenError as error:
            loadgen_result["error"] = str(error)

    try:
        thread = threading.Thread(target=run_load)
        thread.start()
        # wait until every client is connected, then for the joins and the loadgen's warm-up
        deadline = time.monotonic() + 60
        while established(server.port) < CLIENTS and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(4)
        log(f"  py-spy record --pid {server.pid} --duration {seconds:g} (rate {rate}/s)")
        subprocess.run(
            [
                str(py_spy),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                f"{seconds:g}",
                "--format",
                "raw",
                "--nolineno",
                *(["--idle"] if idle else []),
                "--output",
                str(raw_path),
            ],
            check=True,
            capture_output=True,
            timeout=seconds + 30,
        )
        thread.join(60 + seconds)
    finally:
        server.stop()
    per_delivery = None
    if loadgen_result.get("server_cpu_pct") and loadgen_result.get("deliveries_per_s"):
        per_delivery = (
            loadgen_result["server_cpu_pct"] / 100 / loadgen_result["deliveries_per_s"] * 1e6
        )
    summary = summarise_profile(raw_path, None if idle else per_delivery, idle=idle)
    step = (
        load.describe_step(loadgen_result)
        if "p99_ms" in loadgen_result
        else loadgen_result.get("error", "?")
    )
    return (
        f"Profile of {config.label} at {rate:,} deliveries/s offered "
        f"(py-spy record, {seconds:g} s, "
        f"worker pid, {'waiting included' if idle else 'idle frames excluded'}): load during "
        f"the profile: {step}\n\nRaw stacks: "
        f"{raw_path.relative_to(ROOT)}\n\n{summary}"
    )


# Where each sample's CPU went: the first phase whose pattern matches the stack (frames joined
# root to leaf with ";") takes the sample, so the phases add up to 100%.
PHASES = [
    (
        "message event: storing it (SQLAlchemy + driver under MessageService.post)",
        r"MessageService\.post.*(?:sqlalchemy|sqlite3|psycopg|app/storage)",
    ),
    (
        "message event: broadcast (socket.io emit: the packet and its frame built once, "
        "then written to each recipient's socket)",
        r"SocketIOBroadcaster\.message",
    ),
    ("message event: the rest of the handler (validation, checks)", r"on_message"),
    (
        "reading frames (recv and wsproto, in engine.io's handler greenlet)",
        r"InlineReadingServer\.receive",
    ),
    (
        "around the handlers (Flask app/request context, socket.io dispatch, acks) and the "
        "other events (connect, join, disconnect)",
        r"_handle_eio_message|_handle_connect",
    ),
    ("writer per recipient: WebSocket frame encode (wsproto)", r"<locals>\.writer.*wsproto"),
    ("writer per recipient: send() to the socket", r"<locals>\.writer.*SocketMixin\.send"),
    ("writer per recipient: the rest (queue get, simple-websocket)", r"<locals>\.writer"),
    (
        "reading frames (simple-websocket's reader greenlet: threading mode)",
        r"simple_websocket|wsproto|recv",
    ),
    ("gevent hub and timers (switching between greenlets)", r"gevent/"),
    ("other", r""),
]
# Inclusive: share of samples with a matching frame anywhere on the stack (these overlap).
SPOTS = [
    (
        "Flask context push/pop (the app context per event; a request context for connect)",
        r"flask/ctx\.py",
    ),
    ("engine.io Socket.send (queue put, per recipient)", r"Socket\.send \((?:.*/)?engineio/"),
    ("socket.io packet encode (json.dumps, once per emit)", r"Packet\.encode"),
    ("JSON encode/decode (json module)", r"/json/(?:encoder|decoder|__init__)\.py"),
    ("SQLAlchemy and the database driver", r"sqlalchemy|sqlite3|psycopg"),
    ("database commits", r"do_commit"),
    ("payload validation (pydantic, app/payloads.py)", r"pydantic|app/payloads\.py"),
    ("logging", r"/logging/__init__\.py"),
    ("wsproto (frame encode and parse)", r"wsproto"),
    ("gevent socket send() (syscalls, per recipient)", r"SocketMixin\.send"),
]


def read_stacks(raw_path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) format: `frame;frame;...;leaf count` per line."""
    stacks = []
    for line in raw_path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append(([short(frame) for frame in frames.split(";")], int(count)))
    return stacks


def summarise_profile(
    raw_path: Path, cpu_us_per_delivery: float | None = None, top: int = 20, idle: bool = False
) -> str:
    """Three markdown tables: the share of each phase (and its µs of CPU per delivery when
    known), the share of a few suspects anywhere on the stack, the top functions by own time."""
    stacks = read_stacks(raw_path)
    total = sum(count for _, count in stacks) or 1

    def share(count: int) -> str:
        return f"{count / total * 100:.1f}%"

    def cost(count: int) -> str:
        """This part's CPU per delivery, when the delivery rate during the profile is known."""
        return f" | {count / total * cpu_us_per_delivery:.0f}" if cpu_us_per_delivery else ""

    cost_head = " | µs of CPU per delivery" if cpu_us_per_delivery else ""
    cost_rule = "|---" if cpu_us_per_delivery else ""

    phases = {label: 0 for label, _ in PHASES}
    compiled = [(label, re.compile(pattern)) for label, pattern in PHASES]
    for frames, count in stacks:
        joined = ";".join(frames)
        label = next(label for label, regex in compiled if regex.search(joined))
        phases[label] += count
    lines = [
        f"{total:,} samples (100 a second; "
        + ("waiting is sampled too)." if idle else "idle time is not sampled)."),
        "",
        f"| Where the {'time' if idle else 'CPU'} goes (each sample counted once) "
        f"| % of samples{cost_head} |",
        f"|---|---{cost_rule}|",
    ]
    lines += [f"| {label} | {share(c)}{cost(c)} |" for label, c in phases.items() if c]

    lines += ["", "| On the stack (overlapping) | % of samples |", "|---|---|"]
    for label, pattern in SPOTS:
        regex = re.compile(pattern)
        count = sum(c for frames, c in stacks if any(regex.search(f) for f in frames))
        lines.append(f"| {label} | {share(count)} |")

    own: dict[str, int] = {}
    for frames, count in stacks:
        own[frames[-1]] = own.get(frames[-1], 0) + count
    lines += ["", f"| Top {top} functions by own time | % of samples |", "|---|---|"]
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"| `{frame}` | {share(count)} |")
    return "\n".join(lines)


def short(frame: str) -> str:
    """`fn (/long/site-packages/pkg/mod.py)` -> `fn (pkg/mod.py)`."""
    return re.sub(r"\((?:[^()]*/(?:site-packages|lib/python3\.\d+|main)/)", "(", frame)
