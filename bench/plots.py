"""The run's figures: p99 latency and server CPU against offered deliveries/s, as PNG files.

    .venv/bin/python -m bench.plots bench/results/<stamp>.json [out_dir]   # redraw a past run

Drawn from the figures a run recorded (the .json file's `raw()` dict), nothing recomputed but
the median over repeats: one line per configuration (bold: the median over the repeats at each
offered load; faint: each repeat), every step marked by its verdict (analysis.verdict).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.analysis import verdict
from bench.settings import CONFIGS, LATENCY_DELIVERIES, P99_LIMIT_MS, deliveries

# One file per figure: the name under bench/results/<stamp>/ and docs/performance/.
FILES = {"latency": "latency.png", "cpu": "cpu.png"}
TITLES = {
    "latency": "p99 latency against offered load",
    "cpu": "Server CPU against offered load",
}
ALT = {
    "latency": "p99 latency (ms, log scale) against offered deliveries/s, per configuration",
    "cpu": "server CPU (% of one core) against offered deliveries/s, per configuration",
}
LABELS = {config.key: config.label for config in CONFIGS}
# Fixed colours, so that a configuration looks the same in both figures and in every run.
COLOURS = {
    "gunicorn-sqlite": "tab:blue",
    "gunicorn-postgres": "tab:green",
    "flask-sqlite": "tab:orange",
    "node": "tab:gray",
}
MARKERS = {  # verdict -> how a step is marked
    "pass": {"marker": "o", "markersize": 4},
    "FAIL": {"marker": "X", "markersize": 9},
    "generator-bound": {"marker": "^", "markersize": 7, "markerfacecolor": "none"},
}
DPI = 100
SIZE = (8.0, 5.2)  # inches: 800 x 520 pixels at DPI


def value(step: dict, kind: str) -> float | None:
    """What a figure plots for one step: p99 in ms (None if nothing arrived, or 0 on a log
    axis), or the server's CPU in % of a core (None if /proc could not be read)."""
    if kind == "latency":
        p99 = step.get("p99_ms")
        return float(p99) if p99 is not None and p99 > 0 else None
    cpu = step.get("server_cpu_pct")
    return float(cpu) if cpu is not None else None


def plotted(raw: dict) -> list[dict]:
    """The configurations that recorded at least one fan-out step, in the run's order."""
    return [r for r in raw.get("results", []) if any(r.get("fanout") or [])]


def figure(raw: dict, kind: str) -> Figure:
    """One figure ("latency" or "cpu") of the run `raw` (Report.raw()): every configuration's
    steps against offered deliveries/s, with the run's date and mode in the title."""
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # the non-interactive backend: no display needed
    ax = fig.add_subplot()
    results = plotted(raw)
    repeated = any(len(r["fanout"]) > 1 for r in results)
    offered: set[float] = set()
    unknown_top = False  # a failed step with no p99 (nothing arrived) is drawn at the top
    for result in results:
        colour = COLOURS.get(result["config"], "tab:purple")
        by_load: dict[float, list[float]] = defaultdict(list)
        for steps in result["fanout"]:
            points = sorted(
                ((deliveries(s["rate_per_sender"]), value(s, kind), s) for s in steps),
                key=lambda point: point[0],
            )
            offered.update(x for x, _, _ in points)
            drawn = [(x, y) for x, y, _ in points if y is not None]
            for x, y in drawn:
                by_load[x].append(y)
            if repeated and len(drawn) > 1:
                ax.plot(*zip(*drawn, strict=True), color=colour, alpha=0.3, linewidth=1)
            for x, y, step in points:
                style = MARKERS[verdict(step)]
                if y is None:
                    if kind != "latency" or verdict(step) != "FAIL":
                        continue  # CPU unread, or a step that counted yet has no p99: nothing
                    # x in data, y at the top of the axes: the step failed with nothing to plot
                    ax.plot(x, 0.97, color=colour, transform=ax.get_xaxis_transform(), **style)
                    unknown_top = True
                    continue
                ax.plot(x, y, color=colour, **style)
        loads = sorted(by_load)
        medians = [statistics.median(by_load[x]) for x in loads]
        label = LABELS.get(result["config"], result["config"])
        ax.plot(loads, medians, color=colour, linewidth=2, label=label)
        latency = result.get("latency")
        if kind == "latency" and latency and latency.get("mode") == "latency":
            y = value(latency, kind)
            if y is not None:
                ax.plot(LATENCY_DELIVERIES, y, color=colour, marker="D", markersize=7, linestyle="")
    highest = max((y for line in ax.get_lines() for y in line.get_ydata()), default=0)
    axes(ax, kind, sorted(offered), highest)
    ax.set_title(f"{TITLES[kind]}\nrun {raw.get('date', '?')}, {raw.get('mode', '?')} mode")
    fig.legend(
        handles=legend(ax, kind, repeated, unknown_top, results),
        loc="outside lower center",
        ncols=2,
        fontsize="small",
        frameon=False,
    )
    return fig


def axes(ax, kind: str, offered: list[float], highest: float) -> None:
    """Scales, ticks, labels and the limit line of one figure."""
    ax.set_xscale("log")
    ax.set_xlabel("offered deliveries/s (log scale)")
    ax.xaxis.set_major_locator(ticker.FixedLocator(offered or [1000]))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.grid(True, which="major", alpha=0.3)
    if kind == "latency":
        ax.set_yscale("log")
        ax.set_ylabel("p99 latency (ms, log scale)")
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _: f"{y:g}"))
        ax.axhline(P99_LIMIT_MS, color="tab:red", linestyle="--", linewidth=1)
    else:
        ax.set_ylabel("server CPU (% of one core)")
        ax.set_ylim(0, max(110.0, highest * 1.08))
        ax.axhline(100, color="tab:red", linestyle="--", linewidth=1)


def legend(ax, kind: str, repeated: bool, unknown_top: bool, results: list[dict]) -> list:
    """The configurations, then what the markers and lines mean."""
    handles = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    grey = {"color": "black", "linestyle": ""}
    handles += [
        Line2D([], [], label="step passed", **grey, **MARKERS["pass"]),
        Line2D(
            [],
            [],
            label="step failed" + (" (at the top: none arrived)" if unknown_top else ""),
            **grey,
            **MARKERS["FAIL"],
        ),
        Line2D(
            [],
            [],
            label="generator over 80% CPU (does not count)",
            **grey,
            **MARKERS["generator-bound"],
        ),
    ]
    if repeated:
        handles.append(
            Line2D([], [], color="black", alpha=0.3, label="each repeat (bold: their median)")
        )
    if kind == "latency":
        if any((r.get("latency") or {}).get("mode") == "latency" for r in results):
            handles.append(Line2D([], [], marker="D", label="latency run at 10,000/s", **grey))
        handles.append(
            Line2D(
                [], [], color="tab:red", linestyle="--", label=f"p99 limit ({P99_LIMIT_MS:g} ms)"
            )
        )
    else:
        handles.append(Line2D([], [], color="tab:red", linestyle="--", label="one full core"))
    return handles


def draw(raw: dict, out_dir: Path) -> list[Path]:
    """Write the run's figures into `out_dir` (latency.png, cpu.png); none when no
    configuration recorded a fan-out step. Returns the paths written."""
    if not plotted(raw):
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, name in FILES.items():
        path = out_dir / name
        figure(raw, kind).savefig(path, dpi=DPI)
        written.append(path)
    return written


def publish(paths: list[Path], docs_dir: Path) -> list[Path]:
    """Copy the figures into `docs_dir` (docs/performance/), removing any figure of an earlier
    run that this one did not draw, so that the page never shows a stale one."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    names = {path.name for path in paths}
    for name in FILES.values():
        if name not in names:
            (docs_dir / name).unlink(missing_ok=True)
    return [Path(shutil.copy2(path, docs_dir / path.name)) for path in paths]


def markdown(paths: list[Path], prefix: str) -> list[str]:
    """Markdown image links to the figures, each path as `prefix` + its file name, each its
    own paragraph (one above the other, not side by side)."""
    alt = {name: ALT[kind] for kind, name in FILES.items()}
    links = [f"![{alt[path.name]}]({prefix}{path.name})" for path in paths]
    return [line for link in links for line in ("", link)][1:]


def main(argv: list[str]) -> int:
    """Redraw the figures of a recorded run: `python -m bench.plots RUN.json [OUT_DIR]`
    (default: bench/results/<stamp>/ beside the .json)."""
    if not argv or len(argv) > 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    source = Path(argv[0])
    out_dir = Path(argv[1]) if len(argv) > 1 else source.with_suffix("")
    for path in draw(json.loads(source.read_text()), out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
