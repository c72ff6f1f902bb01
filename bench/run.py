"""Benchmark orchestrator (issue 7): this server against the Node socket.io reference, one run.

    .venv/bin/python bench/run.py              # full run, about 10 minutes (`make bench`)
    .venv/bin/python bench/run.py --quick      # smoke run, under a minute (`make bench QUICK=1`)
    .venv/bin/python bench/run.py --update-docs   # also rewrite "Latest run" in docs/performance.md
    .venv/bin/python bench/run.py --profile gunicorn-sqlite --profile-rate 4000

For each server configuration (gunicorn + gevent with SQLite and PostgreSQL, `flask run`, the
Node reference in bench/reference/server.js) it starts the server pinned to core 0, drives it
with bench/loadgen.js (socket.io-client) pinned to core 1, and prints a markdown table: fan-out
capacity, latency at 10,000 deliveries/s, connection cost, and the ratios to Node. See
bench/README.md for what each figure means.

Standard library and the project's own packages only; run it with the project's venv python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "performance.md"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))  # the project's own packages (app, config) when not installed

NOFILE = 20000  # children get RLIMIT_NOFILE raised up to this (or the hard limit if lower)
GENERATOR_CPU_LIMIT = 80.0  # a step counts only while the generator stays under this
P99_LIMIT_MS = 100.0
CLIENTS = 1000
ROOM_SIZE = 50
SENDERS = CLIENTS // ROOM_SIZE
USERS = 1000
LATENCY_DELIVERIES = 10000
FLASK_CONNECTIONS = 1000  # `flask run` is a development server: no 10,000-thread test
PASSWORD = "bench-password-0"  # noqa: S105  (throwaway users in a throwaway database)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Mode:
    name: str
    ladder: tuple[int, ...]  # fan-out send rates per sender (messages/s); x1000 = deliveries/s
    start: int  # the rate the first repeat starts at (bench/README.md: how the ladder is climbed)
    repeats: int
    warmup: float
    duration: float
    latency_warmup: float
    latency_duration: float
    latency_from_fanout: bool  # quick: take the 10,000/s figure from the fan-out step at rate 10
    connections: int
    connections_fresh_server: bool
    configs: tuple[str, ...]  # run by default (--configs picks others)


FULL = Mode(
    name="full",
    ladder=(1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64),
    start=4,
    repeats=3,
    warmup=2,
    duration=5,
    latency_warmup=3,
    latency_duration=8,
    latency_from_fanout=False,
    connections=10000,
    connections_fresh_server=True,
    configs=("gunicorn-sqlite", "gunicorn-postgres", "flask-sqlite", "node"),
)
QUICK = Mode(
    name="quick",
    ladder=(2, 10, 20, 40),
    start=2,
    repeats=1,
    warmup=1,
    duration=3,
    latency_warmup=1,
    latency_duration=3,
    latency_from_fanout=True,
    connections=2000,
    connections_fresh_server=False,
    configs=("gunicorn-sqlite", "node"),
)


@dataclass(frozen=True)
class ServerConfig:
    key: str
    label: str
    kind: str  # "gunicorn", "flask" or "node"
    database: str | None  # "sqlite", "postgres" or None (no storage)


CONFIGS = (
    ServerConfig(
        "gunicorn-sqlite", "this server: gunicorn + gevent, 1 worker, SQLite", "gunicorn", "sqlite"
    ),
    ServerConfig(
        "gunicorn-postgres",
        "this server: gunicorn + gevent, 1 worker, PostgreSQL",
        "gunicorn",
        "postgres",
    ),
    ServerConfig("flask-sqlite", "this server: `flask run` (threading), SQLite", "flask", "sqlite"),
    ServerConfig("node", "Node socket.io 4.8 reference (no storage)", "node", None),
)
CONFIG_KEYS = [config.key for config in CONFIGS]


def log(text: str) -> None:
    """Progress goes to stderr; stdout carries only the final table."""
    print(text, file=sys.stderr, flush=True)


# -- processes ------------------------------------------------------------------------------


def _raise_nofile() -> None:  # preexec_fn: runs in the child before exec
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pinned(core: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    if cores() < 2 or taskset is None:
        return argv
    return [taskset, "-c", str(core), *argv]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_group(proc: subprocess.Popen, grace: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Signal the process group this script started (start_new_session), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    if not found and shutil.which("pgrep"):
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
        found = [int(line) for line in out.stdout.split()]
    return found


def cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of stat)


def rss_kib(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB
    except OSError:
        return None


def wait_idle(pid: int, below_pct: float = 15.0, limit_s: float = 8.0) -> bool:
    """Let a server finish the previous load (backlogs, disconnects) before the next scenario;
    False if it is still busy after `limit_s`."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_ticks(pid)
        time.sleep(0.5)
        after = cpu_ticks(pid)
        if before is None or after is None:
            return False
        if (after - before) / CLOCK_TICKS / 0.5 * 100 < below_pct:
            return True
    return False


def established(port: int) -> int:
    """TCP connections established to 127.0.0.1:`port` (server side), from /proc/net/tcp."""
    wanted = f"0100007F:{port:04X}"
    count = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "01":
                count += 1
    return count


class Server:
    """One server process group, pinned to core 0, logging to a file."""

    def __init__(self, config: ServerConfig, argv: list[str], env: dict, port: int, log_path: Path):
        self.config = config
        self.argv = argv
        self.env = env
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None  # the process doing the work: gunicorn's worker

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 40.0) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                pinned(0, self.argv),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_raise_nofile,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.config.key} exited with {self.proc.returncode}: {self.tail()}"
                )
            if self._ready():
                self.pid = self._worker_pid()
                if self.pid is not None:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.config.key} was not ready after {timeout:.0f} s: {self.tail()}")

    def _ready(self) -> bool:
        if self.config.kind == "node":
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def _worker_pid(self) -> int | None:
        assert self.proc is not None
        if self.config.kind != "gunicorn":
            return self.proc.pid
        workers = children_of(self.proc.pid)
        return workers[0] if len(workers) == 1 else None

    def stop(self) -> None:
        """Quick shutdown: SIGINT for gunicorn (no graceful wait) and flask, SIGTERM for Node."""
        if self.proc is not None:
            sig = signal.SIGTERM if self.config.kind == "node" else signal.SIGINT
            kill_group(self.proc, grace=3, sig=sig)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# -- databases, users and tokens ------------------------------------------------------------


class Databases:
    """Throwaway databases: SQLite files in a temporary directory, PostgreSQL `chat_bench_<pid>`."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="chat_bench_"))
        self.pg_name: str | None = None

    def sqlite_url(self, key: str) -> str:
        return f"sqlite:///{self.tmp / (key + '.db')}"

    @staticmethod
    def postgres_available() -> str | None:
        """None when PostgreSQL on 127.0.0.1:5432 can be used, else why not."""
        for tool in ("createdb", "dropdb", "psql"):
            if shutil.which(tool) is None:
                return f"`{tool}` not found"
        try:
            with socket.create_connection(("127.0.0.1", 5432), timeout=1):
                pass
        except OSError:
            return "nothing listens on 127.0.0.1:5432"
        return None

    def postgres_url(self) -> str:
        if self.pg_name is None:
            name = f"chat_bench_{os.getpid()}"
            subprocess.run(
                ["createdb", "-h", "127.0.0.1", "-U", "postgres", name],
                check=True,
                capture_output=True,
                timeout=30,
            )
            self.pg_name = name
        return f"postgresql://postgres@127.0.0.1:5432/{self.pg_name}"

    def cleanup(self) -> None:
        if self.pg_name is not None:
            result = subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", self.pg_name],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if result.returncode != 0:
                log(f"warning: could not drop database {self.pg_name}: {result.stderr.strip()}")
            self.pg_name = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def server_env(base: dict, *, production: bool, database_url: str, secret: str) -> dict:
    env = {
        key: value
        for key, value in base.items()
        if not key.startswith(("GUNICORN_", "SOCKETIO_", "FLASK_"))
        and key not in {"APP_ENV", "REDIS_URL", "DATABASE_URL", "SECRET_KEY", "HOST", "PORT"}
    }
    env.update(
        APP_ENV="production" if production else "development",
        SECRET_KEY=secret,
        SESSION_COOKIE_SECURE="0",
        DATABASE_URL=database_url,
        MESSAGE_RATE="1000000",
        MESSAGE_BURST="1000000",
        TYPING_RATE="1000000",
        # the budgets every event is charged to (issue 12): a load generator is a flood
        EVENT_RATE="1000000",
        EVENT_BURST="1000000",
        JOIN_RATE="1000000",
        JOIN_BURST="1000000",
        PYTHONUNBUFFERED="1",
    )
    return env


def init_database(database_url: str, secret: str, log_path: Path) -> None:
    """`flask --app wsgi init-db`, as an operator would run it."""
    env = server_env(os.environ, production=False, database_url=database_url, secret=secret)
    with open(log_path, "ab") as out:
        subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", "init-db"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=60,
        )


def make_tokens(database_url: str, secret: str, production: bool, count: int) -> list[str]:
    """Register `count` users straight through the domain (no HTTP, fast password hashes) and
    mint one API token each, with the same SECRET_KEY the server uses."""
    from app import create_app
    from app.extensions import db
    from config import DevelopmentConfig, ProductionConfig

    base = ProductionConfig if production else DevelopmentConfig
    config = type(
        "BenchConfig",
        (base,),
        {
            "SECRET_KEY": secret,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "SESSION_COOKIE_SECURE": False,
            "REDIS_URL": None,
            "SOCKETIO_ASYNC_MODE": "threading",
        },
    )
    app = create_app(config)
    tokens = []
    with app.app_context():
        accounts = app.extensions["accounts"]
        issuer = app.extensions["tokens"]
        for i in range(count):
            account = accounts.register(f"bench{i:05d}", PASSWORD)
            tokens.append(issuer.issue(account.id))
        db.session.remove()
        db.engine.dispose()
    return tokens


# -- the load generator ---------------------------------------------------------------------


class LoadgenError(RuntimeError):
    pass


def run_loadgen(
    loadgen: Path,
    mode: str,
    server: Server,
    tokens_file: Path,
    args: list[str],
    timeout: float,
    log_path: Path,
    on_line=None,
) -> list[dict]:
    """Run one loadgen mode to completion; its stdout is one JSON object per line, each
    also handed to `on_line` as it arrives."""
    argv = pinned(
        1,
        [
            "node",
            str(loadgen),
            mode,
            "--url",
            server.url,
            "--tokens",
            str(tokens_file),
            "--server-pid",
            str(server.pid),
            *args,
        ],
    )
    results: list[dict] = []
    with open(log_path, "ab") as err:
        err.write(f"\n$ {shlex.join(argv)}\n".encode())
        err.flush()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            preexec_fn=_raise_nofile,
            start_new_session=True,
        )

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    log(f"    loadgen printed a non-JSON line: {line[:200]}")
                    continue
                results.append(record)
                if on_line is not None:
                    on_line(record)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc, grace=2)
            reader.join(2)
            raise LoadgenError(f"loadgen {mode} timed out after {timeout:.0f} s") from None
        finally:
            if proc.poll() is None:
                kill_group(proc, grace=2)
        reader.join(5)
    if proc.returncode != 0:
        detail = log_path.read_text(errors="replace").splitlines()[-5:]
        raise LoadgenError(f"loadgen {mode} exited with {proc.returncode}: " + " | ".join(detail))
    return results


def verdict(step: dict) -> str:
    """pass, FAIL, or generator-bound: a step counts only while the generator has CPU to spare."""
    if (step.get("generator_cpu_pct") or 0) >= GENERATOR_CPU_LIMIT:
        return "generator-bound"
    return "pass" if step.get("passed") else "FAIL"


def describe_step(step: dict) -> str:
    return (
        f"rate {step.get('rate_per_sender')}: {num(step.get('deliveries_per_s'))}/s "
        f"p50/p99/max {triple(step)} ms, "
        f"delivered {pct(step.get('delivery_ratio'))}, server {cpu(step.get('server_cpu_pct'))}, "
        f"generator {cpu(step.get('generator_cpu_pct'))} -> {verdict(step)}"
    )


# -- analysis -------------------------------------------------------------------------------


@dataclass
class Capacity:
    step: dict | None  # the last step that counts (passed, generator under its limit)
    stop: dict | None  # the step the ladder stopped at (failed, or generator over its limit)
    bound: str  # "server", "generator", "ladder" (top of the ladder passed), "none" (no run)

    @property
    def value(self) -> float:
        return float(self.step["deliveries_per_s"]) if self.step else 0.0


def capacity_of(steps: list[dict], top_rate: float | None = None) -> Capacity:
    """The capacity one repeat measured. A repeat whose last step passed below `top_rate`
    (the top of the ladder) stopped there because repeat 1's generator ran out of CPU on the
    next rung: its figure is a lower bound like repeat 1's."""
    if not steps:
        return Capacity(None, None, "none")
    last = None
    for step in sorted(steps, key=lambda s: s["rate_per_sender"]):
        if (step.get("generator_cpu_pct") or 0) >= GENERATOR_CPU_LIMIT:
            return Capacity(last, step, "generator")
        if not step.get("passed"):
            return Capacity(last, step, "server")
        last = step
    if top_rate is not None and last["rate_per_sender"] < top_rate:
        return Capacity(last, None, "generator")
    return Capacity(last, None, "ladder")


def counts(step: dict) -> bool:
    return verdict(step) == "pass"


def cpu_per_kdelivery(result: ConfigResult, rate: float) -> float | None:
    """Median server CPU (% of a core) per 1,000 deliveries/s over the counting steps at
    `rate`: what a delivery costs the server, whatever limited the ladder."""
    values = [
        step["server_cpu_pct"] / (step["deliveries_per_s"] / 1000)
        for steps in result.runs
        for step in steps
        if step["rate_per_sender"] == rate and counts(step) and step.get("server_cpu_pct")
    ]
    return statistics.median(values) if values else None


@dataclass
class Efficiency:
    """This server's CPU per delivery against Node's at the highest rate both passed."""

    rate: float
    ours: float  # % of a core per 1,000 deliveries/s
    node: float

    @property
    def cost_ratio(self) -> float:  # > 1: this server needs more CPU per delivery
        return self.ours / self.node

    def describe(self) -> str:
        return (
            f"at {num(self.rate * SENDERS * ROOM_SIZE)}/s: {self.ours:.1f}% vs "
            f"{self.node:.1f}% of a core per 1,000 deliveries/s"
        )


def efficiency(result: ConfigResult, node: ConfigResult | None) -> Efficiency | None:
    if node is None or result is node:
        return None

    def counted_rates(r: ConfigResult) -> set[float]:
        return {step["rate_per_sender"] for steps in r.runs for step in steps if counts(step)}

    for rate in sorted(counted_rates(result) & counted_rates(node), reverse=True):
        ours, theirs = cpu_per_kdelivery(result, rate), cpu_per_kdelivery(node, rate)
        if ours and theirs:
            return Efficiency(rate, ours, theirs)
    return None


@dataclass
class ConfigResult:
    config: ServerConfig
    runs: list[list[dict]] = field(default_factory=list)  # fan-out steps, one list per repeat
    latency: dict | None = None
    latency_source: str = ""
    connections: dict | None = None
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None
    top_rate: float | None = None  # the ladder's highest rate

    def capacities(self) -> list[Capacity]:
        return [capacity_of(steps, self.top_rate) for steps in self.runs]

    def median(self) -> Capacity | None:
        caps = self.capacities()
        if not caps:
            return None
        ordered = sorted(caps, key=lambda c: c.value)
        return ordered[(len(ordered) - 1) // 2]  # the lower median for an even count


# -- formatting -----------------------------------------------------------------------------


def num(value) -> str:
    return "–" if value is None else f"{float(value):,.0f}"


def ms(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def pct(ratio) -> str:
    return "–" if ratio is None else f"{float(ratio) * 100:.1f}%"


def cpu(value) -> str:
    return "–" if value is None else f"{float(value):.0f}%"


def kib(value) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def ratio(ours, node, qualifier: str = "") -> str:
    if ours is None or node is None or float(node) == 0:
        return "–"
    value = float(ours) / float(node)
    return f"{qualifier}{value:.0f}x" if value >= 10 else f"{qualifier}{value:.2f}x"


def triple(step: dict | None) -> str:
    if not step:
        return "–"
    return f"{ms(step.get('p50_ms'))} / {ms(step.get('p99_ms'))} / {ms(step.get('max_ms'))}"


def yes(ok: bool) -> str:
    return "yes" if ok else "no"


def cell_capacity(cap: Capacity | None) -> str:
    if cap is None:
        return "–"
    if cap.step is None:
        below = cap.stop["rate_per_sender"] * SENDERS * ROOM_SIZE if cap.stop else None
        return f"< {num(below)} (first step failed)" if below else "–"
    text = num(cap.value)
    if cap.bound == "generator":
        return f"≥ {text} (generator-bound)"
    if cap.bound == "ladder":
        return f"≥ {text} (top of the ladder)"
    return text


def capacity_ratio(cap: Capacity | None, node_cap: Capacity | None) -> str:
    """This server's capacity / Node's; a figure that is only a lower bound ("≥ N") makes the
    ratio a bound too, or leaves it unsettled when both are."""
    if not (cap and cap.step and node_cap and node_cap.step):
        return "–"
    value = cap.value / node_cap.value
    ours_exact, node_exact = cap.bound == "server", node_cap.bound == "server"
    if ours_exact and node_exact:
        return f"{value:.2f}x"
    if ours_exact:
        return f"≤ {math.ceil(value * 100) / 100:.2f}x"
    if node_exact:
        return f"≥ {math.floor(value * 100) / 100:.2f}x"
    return "not settled (both are lower bounds)"


def capacity_target(
    cap: Capacity | None, node_cap: Capacity | None, eff: Efficiency | None
) -> tuple[str, str]:
    """Target 1 (capacity >= 0.5x Node): from the capacities when they settle it, otherwise
    from CPU per delivery (capacity is CPU-bound: a server at its limit runs at ~100%)."""
    if not (cap and cap.step and node_cap and node_cap.step):
        return "–", "not measured"
    value = cap.value / node_cap.value
    ours_exact, node_exact = cap.bound == "server", node_cap.bound == "server"
    measured = f"{num(cap.value)} vs {cell_capacity(node_cap)}"
    if ours_exact and node_exact:
        return f"{value:.2f}x ({measured})", yes(value >= 0.5)
    if ours_exact and value < 0.5:  # Node's capacity is at least its figure: the ratio only falls
        return f"< 0.5x ({measured})", "no"
    if node_exact and value >= 0.5:  # ours is at least its figure: the ratio only rises
        return f"≥ {math.floor(value * 100) / 100:.2f}x ({measured})", "yes"
    if eff is None:
        return f"{value:.2f}x ({measured}; not settled)", "unsure"
    # A lower bound is replaced by where that server's core would run out (100% of it, at its
    # CPU per delivery); an exact capacity stays as measured: a server that failed below full
    # CPU (stalls, not CPU) must not be credited with CPU it could not use.
    ours = cap.value if ours_exact else 100_000 / eff.ours
    node = node_cap.value if node_exact else 100_000 / eff.node
    projected = ours / node
    return (
        f"capacities {measured}, not settled; CPU per delivery {eff.describe()}: "
        f"capacity {'measured' if ours_exact else 'projected'} {num(ours)} vs "
        f"{'measured' if node_exact else 'projected'} {num(node)}, {projected:.2f}x",
        f"{yes(projected >= 0.5)} (projected)",
    )


# -- the run --------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.mode = QUICK if args.quick else FULL
        self.started = time.monotonic()
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.logs = RESULTS / self.stamp
        self.logs.mkdir(parents=True, exist_ok=True)
        self.secret = secrets.token_hex(32)
        self.databases = Databases()
        self.servers: list[Server] = []
        self.loadgen = Path(args.loadgen).resolve()
        self.reference = Path(args.reference).resolve()
        self.results: list[ConfigResult] = []
        self.urls: dict[str, str] = {}
        self.tokens: dict[str, Path] = {}
        self.notes: list[str] = []
        if cores() < 2:
            self.notes.append(
                "One core only: server and generator were not pinned apart (no taskset)."
            )

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # servers

    def make_server(self, config: ServerConfig, database_url: str | None, tag: str) -> Server:
        port = free_port()
        log_path = self.logs / f"{config.key}-{tag}.log"
        if config.kind == "node":
            argv = ["node", str(self.reference), "--port", str(port)]
            env = dict(os.environ)
        elif config.kind == "gunicorn":
            argv = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
            env = server_env(
                os.environ, production=True, database_url=database_url, secret=self.secret
            )
            env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
        else:
            argv = [str(VENV_BIN / "flask"), "--app", "wsgi", "run", "--port", str(port)]
            env = server_env(
                os.environ, production=False, database_url=database_url, secret=self.secret
            )
        server = Server(config, argv, env, port, log_path)
        self.servers.append(server)
        server.start()
        log(
            f"  started {config.key} on :{port} (pid {server.pid}, "
            f"log {log_path.relative_to(ROOT)})"
        )
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def prepare_databases(self, configs: list[ServerConfig]) -> None:
        """A throwaway database with USERS users and their tokens for each configuration, all
        made before any server runs. SQLite configurations share one prepared file, copied."""
        template: tuple[Path, list[str]] | None = None
        for config in configs:
            tokens_file = self.logs / f"tokens-{config.key}.json"
            self.tokens[config.key] = tokens_file
            if config.database is None:
                tokens_file.write_text(json.dumps(["reference-server-ignores-tokens"]))
                continue
            began = time.monotonic()
            if config.database == "sqlite" and template is not None:
                path = self.databases.tmp / f"{config.key}.db"
                shutil.copyfile(template[0], path)
                self.urls[config.key] = f"sqlite:///{path}"
                tokens_file.write_text(json.dumps(template[1]))
                continue
            url = (
                self.databases.postgres_url()
                if config.database == "postgres"
                else self.databases.sqlite_url(config.key)
            )
            init_database(url, self.secret, self.logs / f"{config.key}-init-db.log")
            tokens = make_tokens(url, self.secret, config.kind == "gunicorn", USERS)
            tokens_file.write_text(json.dumps(tokens))
            self.urls[config.key] = url
            if config.database == "sqlite":
                template = (Path(url.removeprefix("sqlite:///")), tokens)
            log(
                f"  {config.key}: database ready, {len(tokens)} users "
                f"in {time.monotonic() - began:.1f} s"
            )

    # scenarios

    def fanout(self, server: Server, tokens: Path, records: list[dict]) -> None:
        """Every fan-out repeat on one set of 1,000 clients, then (full mode) the latency step,
        into `records` as they come (kept if the loadgen fails later); the loadgen climbs the
        ladder itself (bench/README.md)."""
        mode = self.mode
        per_step = mode.warmup + mode.duration + 14  # + drain, and waiting out a failed step
        latency = (
            []
            if mode.latency_from_fanout
            else [
                "--latency-deliveries",
                str(LATENCY_DELIVERIES),
                "--latency-warmup",
                f"{mode.latency_warmup:g}",
                "--latency-duration",
                f"{mode.latency_duration:g}",
            ]
        )
        timeout = 60 + mode.repeats * len(mode.ladder) * per_step + 30

        def progress(step: dict) -> None:
            records.append(step)
            label = f"fanout #{step['repeat']}" if step.get("mode") == "fanout" else "latency"
            log(f"    {label}: {describe_step(step)}")

        run_loadgen(
            self.loadgen,
            "fanout",
            server,
            tokens,
            [
                "--clients",
                str(CLIENTS),
                "--room-size",
                str(ROOM_SIZE),
                "--ladder",
                ",".join(str(rate) for rate in mode.ladder),
                "--start",
                str(mode.start),
                "--repeats",
                str(mode.repeats),
                "--generator-limit",
                f"{GENERATOR_CPU_LIMIT:g}",
                "--warmup",
                f"{mode.warmup:g}",
                "--duration",
                f"{mode.duration:g}",
                *latency,
            ],
            timeout,
            self.logs / f"loadgen-{server.config.key}.log",
            progress,
        )

    def connections(self, server: Server, tokens: Path, count: int) -> dict | None:
        timeout = 40 + count / 100
        records = run_loadgen(
            self.loadgen,
            "connections",
            server,
            tokens,
            ["--count", str(count), "--batch", "500"],
            timeout,
            self.logs / f"loadgen-{server.config.key}.log",
        )
        records = [record for record in records if record.get("mode") == "connections"]
        return records[-1] if records else None

    def run_config(self, config: ServerConfig) -> ConfigResult:
        """Every scenario for one configuration. Each loadgen run gets a server that is idle:
        the same process when it settles after the previous run, else a fresh one. `flask run`
        always gets a fresh one (see bench/README.md: it does not recover from 1,000 clients
        leaving at once), and so does the full connections scenario (RSS of a clean process)."""
        mode = self.mode
        result = ConfigResult(config, top_rate=mode.ladder[-1])
        log(f"== {config.key}: {config.label}  [{self.elapsed():.0f} s]")
        url, tokens = self.urls.get(config.key), self.tokens[config.key]
        server: Server | None = None
        runs = 0

        def ready(scenario: str, fresh: bool = False) -> Server:
            nonlocal server, runs
            runs += 1
            if server is not None and not fresh and config.kind != "flask":
                if wait_idle(server.pid):
                    return server
                result.notes.append(f"the server was still busy before {scenario}: restarted")
                fresh = True
            if server is not None:
                server.stop()
            server = self.make_server(config, url, f"{runs}-{scenario}")
            return server

        try:
            records: list[dict] = []
            try:
                self.fanout(ready("fanout"), tokens, records)
            except LoadgenError as error:
                result.errors.append(f"fan-out: {error}")
                log(f"    {error}")
            for repeat in sorted({r["repeat"] for r in records if r.get("mode") == "fanout"}):
                result.runs.append(
                    [r for r in records if r.get("mode") == "fanout" and r["repeat"] == repeat]
                )
            if len(result.runs) < mode.repeats and not result.errors:
                done = len(result.runs)
                result.notes.append(f"fan-out repeated {done} time(s), not {mode.repeats}")

            if mode.latency_from_fanout:
                at_10k = [
                    step
                    for steps in result.runs
                    for step in steps
                    if step["rate_per_sender"] * SENDERS * ROOM_SIZE == LATENCY_DELIVERIES
                ]
                result.latency = at_10k[0] if at_10k else None
                result.latency_source = "the fan-out step at rate 10 (quick mode)"
            else:
                latency = [r for r in records if r.get("mode") == "latency"]
                result.latency = latency[-1] if latency else None

            try:
                count = mode.connections
                if config.kind == "flask" and count > FLASK_CONNECTIONS:
                    count = FLASK_CONNECTIONS
                    result.notes.append(
                        f"connections: {count:,} rather than {mode.connections:,}: `flask run` is "
                        "a development server with threads per connection (a few hundred "
                        "connects a second at best; batches of 500 can time out)"
                    )
                conn = self.connections(
                    ready("connections", fresh=mode.connections_fresh_server), tokens, count
                )
                result.connections = conn
                if conn:
                    log(
                        f"    connections: {conn.get('opened')} opened, "
                        f"{conn.get('failed')} failed, {num(conn.get('connect_rate'))}/s, "
                        f"{kib(conn.get('rss_per_conn_kib'))} KiB each"
                    )
            except LoadgenError as error:
                result.errors.append(f"connections: {error}")
                log(f"    {error}")
        finally:
            if server is not None:
                server.stop()
        return result

    def run(self) -> list[ConfigResult]:
        selected = []
        for config in CONFIGS:
            if config.key not in self.args.configs:
                continue
            why = Databases.postgres_available() if config.database == "postgres" else None
            if why:
                result = ConfigResult(config, skipped=f"PostgreSQL not available: {why}")
                log(f"== {config.key}: skipped ({result.skipped})")
                self.results.append(result)
            else:
                selected.append(config)
        self.prepare_databases(selected)
        for config in selected:
            try:
                self.results.append(self.run_config(config))
            except (RuntimeError, subprocess.SubprocessError, OSError) as error:
                log(f"  {config.key} failed: {error}")
                self.results.append(ConfigResult(config, errors=[str(error)]))
        return self.results

    # report

    def versions(self) -> dict[str, str]:
        found = {"Python": platform.python_version()}
        for dist in (
            "flask",
            "flask-socketio",
            "python-socketio",
            "python-engineio",
            "simple-websocket",
            "gevent",
            "gunicorn",
            "sqlalchemy",
            "psycopg",
        ):
            try:
                found[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                found[dist] = "not installed"
        found["SQLite"] = sqlite3.sqlite_version
        if shutil.which("psql") and any(
            r.config.database == "postgres" and not r.skipped for r in self.results
        ):
            out = subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "show server_version"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            found["PostgreSQL"] = (
                out.stdout.strip().split()[0] if out.returncode == 0 and out.stdout.strip() else "?"
            )
        try:
            found["Node"] = subprocess.run(
                ["node", "--version"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found["Node"] = "not found"
        for package in ("socket.io", "socket.io-client"):
            found[package] = package_version(package)
        return found

    def machine(self) -> str:
        model = "unknown CPU"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        memory = ""
        with contextlib.suppress(OSError, ValueError, IndexError):
            total = int(Path("/proc/meminfo").read_text().split()[1])
            memory = f", {total / 1024 / 1024:.0f} GiB RAM"
        return (
            f"{os.cpu_count()} cores (nproc {cores()}), {model}{memory}, Linux {platform.release()}"
        )

    def command(self) -> str:
        return self.args.command or shlex.join(
            [os.path.relpath(sys.executable, ROOT), os.path.relpath(__file__, ROOT), *sys.argv[1:]]
        )

    def header(self) -> list[str]:
        mode = self.mode
        pinning = (
            "server pinned to core 0 (`taskset -c 0`), load generator to core 1 (`taskset -c 1`)"
            if cores() >= 2
            else "one core: server and generator share it (no taskset)"
        )
        repeats = (
            f"fan-out repeated {mode.repeats} times on one set of clients, median reported "
            f"(repeat 1 starts at rate {mode.start:g} and climbs by doubling, then tries the "
            "rates it skipped; repeats 2 and 3 start at repeat 1's capacity and climb one rate "
            "at a time)"
            if mode.repeats > 1
            else f"fan-out run once, from rate {mode.start:g}"
        )
        versions = ", ".join(f"{name} {value}" for name, value in self.versions().items())
        return [
            f"- Date: {self.date}; {mode.name} mode, {self.elapsed():.0f} s.",
            f"- Command: `{self.command()}`",
            f"- Machine: {self.machine()}; {pinning}.",
            f"- Versions: {versions}.",
            f"- Method: {CLIENTS:,} socket.io-client clients (bench/loadgen.js, WebSocket only) in "
            f"rooms of {ROOM_SIZE}, one sender per room; send rate per sender stepped through "
            f"{', '.join(str(r) for r in mode.ladder)} messages/s (x {SENDERS * ROOM_SIZE:,} = "
            f"deliveries/s offered), {mode.warmup:g} s warm-up + {mode.duration:g} s measured per "
            f"step; {repeats}. Latency: {LATENCY_DELIVERIES:,} deliveries/s offered, "
            + (
                "taken from the fan-out step at rate 10."
                if mode.latency_from_fanout
                else f"{mode.latency_warmup:g} s warm-up + {mode.latency_duration:g} s measured."
            )
            + " Connections: idle, opened in batches of 500, RSS read 2 s after the last.",
        ]

    def summary(self) -> list[str]:
        node = next((r for r in self.results if r.config.kind == "node" and r.runs), None)
        node_cap = node.median() if node else None
        node_lat = node.latency if node else None
        node_conn = node.connections if node else None
        lines = [
            "| Configuration | Fan-out capacity (deliveries/s) | p50 / p99 / max at capacity (ms) "
            "| Server CPU at the failing step | At 10,000/s: p50 / p99 / max (ms) "
            "| Delivered at 10,000/s | Connections opened (failed) | Connects/s "
            "| RSS per connection (KiB) | Capacity vs Node | CPU per delivery vs Node "
            "| p99 at 10,000/s vs Node | RSS per connection vs Node |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for result in self.results:
            label = result.config.label
            if result.skipped:
                lines.append(f"| {label} | skipped: {result.skipped} |" + " |" * 11)
                continue
            cap = result.median()
            at = cap.step if cap else None
            stop = cap.stop if cap else None
            lat = result.latency or {}
            conn = result.connections or {}
            if stop and cap and cap.bound == "server":
                failing = f"{cpu(stop.get('server_cpu_pct'))} (rate {stop['rate_per_sender']:g})"
            elif stop:
                failing = f"– (generator at {cpu(stop.get('generator_cpu_pct'))})"
            else:
                failing = "–"
            if result is node:
                ratios = ["1.00x"] * 4
            else:
                eff = efficiency(result, node)
                ratios = [
                    capacity_ratio(cap, node_cap),
                    f"{eff.cost_ratio:.2f}x (at {num(eff.rate * SENDERS * ROOM_SIZE)}/s)"
                    if eff
                    else "–",
                    ratio(lat.get("p99_ms"), (node_lat or {}).get("p99_ms")),
                    ratio(conn.get("rss_per_conn_kib"), (node_conn or {}).get("rss_per_conn_kib")),
                ]
            cells = [
                label,
                cell_capacity(cap),
                triple(at),
                failing,
                triple(lat),
                pct(lat.get("delivery_ratio")) if lat else "–",
                f"{conn['opened']:,} ({conn.get('failed', 0):,})" if conn else "–",
                num(conn.get("connect_rate")) if conn else "–",
                kib(conn.get("rss_per_conn_kib")) if conn else "–",
                *ratios,
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "Capacity: deliveries/s measured at the last step that passed (≥ 99% delivered, "
            f"p99 ≤ {P99_LIMIT_MS:.0f} ms, no failed ack) while the generator stayed under "
            f'{GENERATOR_CPU_LIMIT:.0f}% CPU; "generator-bound" means the generator ran out '
            "first, so the server's capacity is at least that. Ratios are this server / Node: "
            "higher is better for capacity, lower is better for CPU per delivery, p99 and RSS. "
            "CPU per delivery: the server's CPU per 1,000 deliveries/s (median over the repeats) "
            "at the highest rate both servers passed; it compares the servers where the "
            "generator cannot push either to its limit.",
        ]
        return lines

    def targets(self) -> list[str]:
        node = next((r for r in self.results if r.config.kind == "node" and r.runs), None)
        node_cap = node.median() if node else None
        lines = ["| Target (issue 7) | Configuration | Measured | Met |", "|---|---|---|---|"]
        for result in self.results:
            if result.config.kind != "gunicorn" or result.skipped:
                continue
            label = result.config.label
            cap = result.median()
            figure, met = capacity_target(cap, node_cap, efficiency(result, node))
            lines.append(
                f"| Fan-out capacity ≥ 0.5x Node, storage on | {label} | {figure} | {met} |"
            )
            lat = result.latency
            if lat and lat.get("p99_ms") is not None:
                ok = lat["p99_ms"] <= 50 and (lat.get("delivery_ratio") or 0) >= 0.99
                figure = f"p99 {ms(lat['p99_ms'])} ms, {pct(lat.get('delivery_ratio'))} delivered"
                lines.append(f"| p99 ≤ 50 ms at 10,000/s | {label} | {figure} | {yes(ok)} |")
            else:
                lines.append(f"| p99 ≤ 50 ms at 10,000/s | {label} | – | not measured |")
            conn = result.connections
            if conn and self.mode.connections >= 10000:
                ok = conn.get("opened", 0) >= 10000 and (conn.get("rss_per_conn_kib") or 1e9) <= 20
                figure = (
                    f"{conn['opened']:,} opened ({conn.get('failed', 0):,} failed), "
                    f"{kib(conn.get('rss_per_conn_kib'))} KiB each"
                )
            else:
                ok, figure = None, "not measured (quick mode opens 2,000)"
            met = "not measured" if ok is None else yes(ok)
            lines.append(f"| 10,000 connections, ≤ 20 KiB each | {label} | {figure} | {met} |")
        return lines

    def notes_and_steps(self) -> list[str]:
        notes = list(self.notes)
        for result in self.results:
            if len(result.runs) > 1:
                caps = ", ".join(cell_capacity(c) for c in result.capacities())
                notes.append(f"{result.config.key}: fan-out capacity per repeat: {caps}.")
            notes += [f"{result.config.key}: {note}" for note in result.notes]
            notes += [f"{result.config.key}: error: {error}" for error in result.errors]
        lines = ["", "Notes:", ""] + [f"- {note}" for note in notes] if notes else []
        for result in self.results:
            if not result.runs and not result.latency:
                continue
            lines += [
                "",
                f"### Steps: {result.config.label}",
                "",
                "| Repeat | Rate per sender | Deliveries/s | p50 (ms) | p99 (ms) | max (ms) "
                "| Delivered | Failed acks | Server CPU | Generator CPU | Server RSS (MiB) "
                "| Verdict |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            rows = [(str(i), step) for i, steps in enumerate(result.runs, 1) for step in steps]
            if result.latency and not self.mode.latency_from_fanout:
                rows.append(("latency", result.latency))
            for tag, step in rows:
                rss = step.get("server_rss_kb")
                cells = [
                    tag,
                    f"{step.get('rate_per_sender'):g}",
                    num(step.get("deliveries_per_s")),
                    ms(step.get("p50_ms")),
                    ms(step.get("p99_ms")),
                    ms(step.get("max_ms")),
                    pct(step.get("delivery_ratio")),
                    str(step.get("acks_failed", "–")),
                    cpu(step.get("server_cpu_pct")),
                    cpu(step.get("generator_cpu_pct")),
                    num(rss / 1024) if rss is not None else "–",
                    verdict(step),
                ]
                lines.append("| " + " | ".join(cells) + " |")
        return lines

    def report(self) -> str:
        lines = [*self.header(), "", *self.summary(), "", *self.targets(), *self.notes_and_steps()]
        return "\n".join(lines) + "\n"

    def raw(self) -> dict:
        return {
            "date": self.date,
            "mode": self.mode.name,
            "results": [
                {
                    "config": r.config.key,
                    "skipped": r.skipped,
                    "fanout": r.runs,
                    "latency": r.latency,
                    "connections": r.connections,
                    "notes": r.notes,
                    "errors": r.errors,
                }
                for r in self.results
            ],
        }


def package_version(package: str) -> str:
    installed = BENCH / "node_modules" / package / "package.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(installed.read_text())["version"]
    with contextlib.suppress(OSError, ValueError, KeyError):
        return (
            json.loads((BENCH / "package.json").read_text())["dependencies"][package] + " (pinned)"
        )
    return "?"


def update_docs(section: str) -> None:
    """Replace the body of "## Latest run" in docs/performance.md (created if missing)."""
    heading = "## Latest run"
    text = DOC.read_text() if DOC.exists() else "# Performance\n\n## Latest run\n\n## History\n"
    if heading not in text:
        text = text.rstrip() + f"\n\n{heading}\n"
    before, after = text.split(heading, 1)
    rest = re.search(r"^## ", after, flags=re.MULTILINE)
    tail = after[rest.start() :] if rest else ""
    intro = "<!-- written by `bench/run.py --update-docs`: edit the sections after this one -->\n"
    DOC.write_text(f"{before}{heading}\n\n{intro}\n{section.rstrip()}\n\n{tail}".rstrip() + "\n")


# -- profiling ------------------------------------------------------------------------------


def profile(bench: Bench, key: str, rate: int, seconds: float, idle: bool = False) -> str:
    """py-spy on the server process while the loadgen offers `rate` deliveries/s in fan-out."""
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

    def load() -> None:
        try:
            records = run_loadgen(
                bench.loadgen,
                "latency",
                server,
                tokens,
                [
                    "--clients",
                    str(CLIENTS),
                    "--room-size",
                    str(ROOM_SIZE),
                    "--deliveries",
                    str(rate),
                    "--warmup",
                    "3",
                    "--duration",
                    f"{seconds + 4:g}",
                ],
                60 + seconds,
                bench.logs / f"loadgen-{key}-profile.log",
            )
            loadgen_result.update(records[-1] if records else {})
        except LoadgenError as error:
            loadgen_result["error"] = str(error)

    try:
        thread = threading.Thread(target=load)
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
        describe_step(loadgen_result)
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


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short pass, under a minute")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite 'Latest run' in docs/performance.md"
    )
    parser.add_argument(
        "--configs",
        help=f"comma-separated subset of {','.join(CONFIG_KEYS)}, or `all` (default: all in "
        f"full mode; {','.join(QUICK.configs)} in quick mode)",
    )
    parser.add_argument("--loadgen", default=str(BENCH / "loadgen.js"))
    parser.add_argument("--reference", default=str(BENCH / "reference" / "server.js"))
    parser.add_argument("--command", help="how this run was started, for the report (make sets it)")
    parser.add_argument(
        "--profile", metavar="CONFIG", help="py-spy a server under fan-out load instead"
    )
    parser.add_argument(
        "--profile-rate", type=int, default=4000, help="deliveries/s offered while profiling"
    )
    parser.add_argument("--profile-seconds", type=float, default=10)
    parser.add_argument(
        "--profile-idle",
        action="store_true",
        help="sample waiting time too (py-spy --idle): where the worker blocks, not only CPU",
    )
    args = parser.parse_args(argv)
    if args.configs is None:
        args.configs = list((QUICK if args.quick else FULL).configs)
    elif args.configs == "all":
        args.configs = list(CONFIG_KEYS)
    else:
        args.configs = [key.strip() for key in args.configs.split(",") if key.strip()]
    unknown = set(args.configs) - set(CONFIG_KEYS)
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(sorted(unknown))}")
    for path in (Path(args.loadgen), Path(args.reference)):
        if not path.exists():
            parser.error(f"{path} is missing")
    if not (BENCH / "node_modules").exists() and Path(args.loadgen).resolve().parent == BENCH:
        parser.error("bench/node_modules is missing: run `npm ci --prefix bench` (make bench does)")

    bench = Bench(args)

    def terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    try:
        if args.profile:
            text = profile(
                bench, args.profile, args.profile_rate, args.profile_seconds, args.profile_idle
            )
            (bench.logs / "profile.md").write_text(text + "\n")
            print(text)
            return 0
        bench.run()
        report = bench.report()
    finally:
        bench.stop_all()
        bench.databases.cleanup()
    title = f"# Benchmark run {bench.stamp} ({bench.mode.name})\n\n"
    out_path = RESULTS / f"{bench.stamp}.md"
    out_path.write_text(title + report)
    (RESULTS / f"{bench.stamp}.json").write_text(json.dumps(bench.raw(), indent=1) + "\n")
    print(title + report)
    log(
        f"written {out_path.relative_to(ROOT)} "
        f"(logs and raw figures in {bench.logs.relative_to(ROOT)}/)"
    )
    if args.update_docs:
        update_docs(report)
        log(f"updated {DOC.relative_to(ROOT)} (Latest run)")
    failed = [r for r in bench.results if r.errors and not r.runs]
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:  # servers and databases are already cleaned up
        log(f"interrupted ({interrupt or 'Ctrl+C'}): servers stopped, databases dropped")
        sys.exit(130)
