"""The written report: header, the table with the ratios to Node, the targets, notes and steps."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bench import environment
from bench.analysis import Capacity, ConfigResult, Efficiency, efficiency, verdict
from bench.formatting import cpu, kib, ms, num, pct, ratio, triple, yes
from bench.settings import (
    CLIENTS,
    DOC,
    GENERATOR_CPU_LIMIT,
    LATENCY_DELIVERIES,
    P99_LIMIT_MS,
    ROOM_SIZE,
    SENDERS,
    Mode,
    deliveries,
)


def cell_capacity(cap: Capacity | None) -> str:
    """A capacity as the table shows it: exact, a lower bound ("≥ N (why)"), or below the
    first step."""
    if cap is None:
        return "–"
    if cap.step is None:
        below = deliveries(cap.stop["rate_per_sender"]) if cap.stop else None
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
    """The capacity target (>= 0.5x Node): from the capacities when they settle it, otherwise
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


@dataclass
class Report:
    """The report of one run, from its results; `text()` is what stdout and the .md file get."""

    mode: Mode
    results: list[ConfigResult]
    notes: list[str]  # about the whole run (each result has its own)
    date: str
    elapsed: float  # seconds the run took
    command: str  # how it was started

    def node(self) -> ConfigResult | None:
        return next((r for r in self.results if r.config.kind == "node" and r.runs), None)

    def text(self, figures: list[str] | None = None) -> str:
        """The report; `figures` (Markdown image lines, bench/plots.py) go after the header."""
        drawn = [*figures, ""] if figures else []
        lines = [
            *self.header(),
            "",
            *drawn,
            *self.summary(),
            "",
            *self.targets(),
            *self.notes_and_steps(),
        ]
        return "\n".join(lines) + "\n"

    def header(self) -> list[str]:
        mode = self.mode
        repeats = (
            f"fan-out repeated {mode.repeats} times on one set of clients, median reported "
            f"(repeat 1 starts at rate {mode.start:g} and climbs by doubling, then tries the "
            "rates it skipped; repeats 2 and 3 start at repeat 1's capacity and climb one rate "
            "at a time)"
            if mode.repeats > 1
            else f"fan-out run once, from rate {mode.start:g}"
        )
        with_postgres = any(r.config.database == "postgres" and not r.skipped for r in self.results)
        versions = environment.versions(with_postgres)
        listed = ", ".join(f"{name} {value}" for name, value in versions.items())
        return [
            f"- Date: {self.date}; {mode.name} mode, {self.elapsed:.0f} s.",
            f"- Command: `{self.command}`",
            f"- Machine: {environment.machine()}; {environment.pinning()}.",
            f"- Versions: {listed}.",
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
        node = self.node()
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
                    f"{eff.cost_ratio:.2f}x (at {num(deliveries(eff.rate))}/s)" if eff else "–",
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
        """The targets for the production configuration, checked for each gunicorn row."""
        node = self.node()
        node_cap = node.median() if node else None
        lines = ["| Target | Configuration | Measured | Met |", "|---|---|---|---|"]
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

    def raw(self) -> dict:
        """The figures as the .json file keeps them."""
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


def update_docs(section: str) -> None:
    """Replace the body of "## Latest run" in docs/performance.md (created if missing)."""
    heading = "## Latest run"
    text = DOC.read_text() if DOC.exists() else "# Performance\n\n## Latest run\n\n## History\n"
    if heading not in text:
        text = text.rstrip() + f"\n\n{heading}\n"
    before, after = text.split(heading, 1)
    rest = re.search(r"^## ", after, flags=re.MULTILINE)
    tail = after[rest.start() :] if rest else ""
    intro = (
        "<!-- written by `python -m bench --update-docs`: edit the sections after this one -->\n"
    )
    DOC.write_text(f"{before}{heading}\n\n{intro}\n{section.rstrip()}\n\n{tail}".rstrip() + "\n")
