"""One benchmark run: prepares the databases, then measures each configuration in turn."""

from __future__ import annotations

import secrets
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import databases, load
from bench.analysis import ConfigResult
from bench.formatting import kib, num
from bench.processes import Server, cores, server_for, wait_idle
from bench.settings import (
    CONFIGS,
    FLASK_CONNECTIONS,
    LATENCY_DELIVERIES,
    RESULTS,
    ROOT,
    Mode,
    ServerConfig,
    deliveries,
    log,
)


class Benchmark:
    """The servers, databases, logs and results of one run (bench/results/<stamp>/)."""

    def __init__(self, mode: Mode, loadgen: Path, reference: Path):
        self.mode = mode
        self.started = time.monotonic()
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.logs = RESULTS / self.stamp
        self.logs.mkdir(parents=True, exist_ok=True)
        self.secret = secrets.token_hex(32)
        self.databases = databases.Databases()
        self.servers: list[Server] = []
        self.loadgen = loadgen
        self.reference = reference
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

    def prepare_databases(self, configs: list[ServerConfig]) -> None:
        """Databases, users and tokens for `configs`, before any server starts."""
        urls, tokens = databases.prepare(self.databases, configs, self.secret, self.logs)
        self.urls.update(urls)
        self.tokens.update(tokens)

    def make_server(self, config: ServerConfig, database_url: str | None, tag: str) -> Server:
        """Start a server for `config`; it is stopped by `stop_all` if not before."""
        log_path = self.logs / f"{config.key}-{tag}.log"
        server = server_for(config, database_url, self.secret, self.reference, log_path)
        self.servers.append(server)
        server.start()
        log(
            f"  started {config.key} on :{server.port} (pid {server.pid}, "
            f"log {log_path.relative_to(ROOT)})"
        )
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def cleanup(self) -> None:
        """Stop every server, drop the databases."""
        self.stop_all()
        self.databases.cleanup()

    def run(self, keys: list[str]) -> list[ConfigResult]:
        """Measure the configurations named in `keys` (in table order); PostgreSQL rows are
        skipped, with the reason, when no PostgreSQL can be used."""
        selected = []
        for config in CONFIGS:
            if config.key not in keys:
                continue
            why = databases.postgres_unavailable() if config.database == "postgres" else None
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

    def run_config(self, config: ServerConfig) -> ConfigResult:
        """Every scenario for one configuration. Each loadgen run gets a server that is idle:
        the same process when it settles after the previous run, else a fresh one. `flask run`
        always gets a fresh one (see bench/README.md: it does not recover from 1,000 clients
        leaving at once), and so does the full connections scenario (RSS of a clean process)."""
        mode = self.mode
        result = ConfigResult(config, top_rate=mode.ladder[-1])
        log(f"== {config.key}: {config.label}  [{self.elapsed():.0f} s]")
        url, tokens = self.urls.get(config.key), self.tokens[config.key]
        loadgen_log = self.logs / f"loadgen-{config.key}.log"
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
                load.fanout(self.loadgen, mode, ready("fanout"), tokens, loadgen_log, records)
            except load.LoadgenError as error:
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
                    if deliveries(step["rate_per_sender"]) == LATENCY_DELIVERIES
                ]
                result.latency = at_10k[0] if at_10k else None
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
                fresh = mode.connections_fresh_server
                conn = load.connections(
                    self.loadgen, ready("connections", fresh=fresh), tokens, count, loadgen_log
                )
                result.connections = conn
                if conn:
                    log(
                        f"    connections: {conn.get('opened')} opened, "
                        f"{conn.get('failed')} failed, {num(conn.get('connect_rate'))}/s, "
                        f"{kib(conn.get('rss_per_conn_kib'))} KiB each"
                    )
            except load.LoadgenError as error:
                result.errors.append(f"connections: {error}")
                log(f"    {error}")
        finally:
            if server is not None:
                server.stop()
        return result
