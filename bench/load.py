"""Load generation: bench/loadgen.js (socket.io-client) pinned to core 1, one JSON line a step."""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from bench.analysis import verdict
from bench.formatting import cpu, num, pct, triple
from bench.processes import Server, kill_group, pinned, raise_nofile
from bench.settings import (
    CLIENTS,
    GENERATOR_CPU_LIMIT,
    LATENCY_DELIVERIES,
    ROOM_SIZE,
    ROOT,
    Mode,
    log,
)

# The clients of the fan-out and steady loads: CLIENTS of them in rooms of ROOM_SIZE.
ROOMS = ["--clients", str(CLIENTS), "--room-size", str(ROOM_SIZE)]


class LoadgenError(RuntimeError):
    """The load generator failed, timed out or printed nothing usable."""


def run_loadgen(
    loadgen: Path,
    mode: str,
    server: Server,
    tokens_file: Path,
    args: list[str],
    timeout: float,
    log_path: Path,
    on_line: Callable[[dict], None] | None = None,
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
            preexec_fn=raise_nofile,
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


def describe_step(step: dict) -> str:
    """One step on one progress line: rate, deliveries, latencies, CPU and the verdict."""
    return (
        f"rate {step.get('rate_per_sender')}: {num(step.get('deliveries_per_s'))}/s "
        f"p50/p99/max {triple(step)} ms, "
        f"delivered {pct(step.get('delivery_ratio'))}, server {cpu(step.get('server_cpu_pct'))}, "
        f"generator {cpu(step.get('generator_cpu_pct'))} -> {verdict(step)}"
    )


def fanout(
    loadgen: Path, mode: Mode, server: Server, tokens: Path, log_path: Path, records: list[dict]
) -> None:
    """Every fan-out repeat on one set of 1,000 clients, then (full mode) the latency step,
    into `records` as they come (kept if the loadgen fails later); the loadgen climbs the
    ladder itself (bench/README.md)."""
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
        loadgen,
        "fanout",
        server,
        tokens,
        [
            *ROOMS,
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
        log_path,
        progress,
    )


def connections(
    loadgen: Path, server: Server, tokens: Path, count: int, log_path: Path
) -> dict | None:
    """Open `count` idle connections in batches of 500; the loadgen's summary of them."""
    timeout = 40 + count / 100
    records = run_loadgen(
        loadgen,
        "connections",
        server,
        tokens,
        ["--count", str(count), "--batch", "500"],
        timeout,
        log_path,
    )
    records = [record for record in records if record.get("mode") == "connections"]
    return records[-1] if records else None


def steady(
    loadgen: Path,
    server: Server,
    tokens: Path,
    deliveries_per_s: int,
    warmup: float,
    duration: float,
    timeout: float,
    log_path: Path,
) -> dict:
    """A fixed load (the loadgen's latency mode): 1,000 clients in rooms, `deliveries_per_s`
    offered for `warmup` + `duration` seconds; the loadgen's figures for it."""
    records = run_loadgen(
        loadgen,
        "latency",
        server,
        tokens,
        [
            *ROOMS,
            "--deliveries",
            str(deliveries_per_s),
            "--warmup",
            f"{warmup:g}",
            "--duration",
            f"{duration:g}",
        ],
        timeout,
        log_path,
    )
    return records[-1] if records else {}
