"""Benchmark: this server against the Node socket.io reference, one run (`python -m bench`).

    .venv/bin/python -m bench              # full run, about 7 minutes (`make bench`)
    .venv/bin/python -m bench --quick      # smoke run, under a minute (`make bench QUICK=1`)
    .venv/bin/python -m bench --update-docs   # also rewrite "Latest run" in docs/performance.md
    .venv/bin/python -m bench --profile gunicorn-sqlite --profile-rate 4000

For each server configuration (gunicorn + gevent with SQLite and PostgreSQL, `flask run`, the
Node reference in bench/reference/server.js) it starts the server pinned to core 0, drives it
with bench/loadgen.js (socket.io-client) pinned to core 1, and prints a markdown table: fan-out
capacity, latency at 10,000 deliveries/s, connection cost, and the ratios to Node; and it draws
p99 latency and server CPU against offered load (bench/plots.py). See bench/README.md for what
each figure means.

Run it from the repository root with the project's venv python (`make bench` does).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
from pathlib import Path

from bench import plots
from bench.profiling import profile
from bench.report import Report, update_docs
from bench.runner import Benchmark
from bench.settings import (
    BENCH,
    CONFIG_KEYS,
    DOC,
    DOC_FIGURES,
    FULL,
    QUICK,
    RESULTS,
    ROOT,
    log,
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line; `configs` comes back as a list of configuration keys."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
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
    return args


def main(argv: list[str] | None = None) -> int:
    """One run (or one profile); the exit status is 1 when a configuration measured nothing."""
    args = parse(argv)
    bench = Benchmark(
        QUICK if args.quick else FULL, Path(args.loadgen).resolve(), Path(args.reference).resolve()
    )

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
        results = bench.run(args.configs)
        command = args.command or shlex.join(
            [os.path.relpath(sys.executable, ROOT), "-m", "bench", *sys.argv[1:]]
        )
        report = Report(bench.mode, results, bench.notes, bench.date, bench.elapsed(), command)
    finally:
        bench.cleanup()
    raw = report.raw()
    # The raw figures first: if drawing fails, what the run measured is kept.
    (RESULTS / f"{bench.stamp}.json").write_text(json.dumps(raw, indent=1) + "\n")
    figures = plots.draw(raw, bench.logs)  # bench/results/<stamp>/latency.png, cpu.png
    text = report.text(plots.markdown(figures, f"{bench.stamp}/"))
    title = f"# Benchmark run {bench.stamp} ({bench.mode.name})\n\n"
    out_path = RESULTS / f"{bench.stamp}.md"
    out_path.write_text(title + text)
    print(title + text)
    log(
        f"written {out_path.relative_to(ROOT)} "
        f"(figures, logs and raw figures in {bench.logs.relative_to(ROOT)}/)"
    )
    if args.update_docs:
        published = plots.publish(figures, DOC_FIGURES)
        prefix = f"{DOC_FIGURES.relative_to(DOC.parent)}/"
        update_docs(report.text(plots.markdown(published, prefix)))
        log(f"updated {DOC.relative_to(ROOT)} (Latest run) and {DOC_FIGURES.relative_to(ROOT)}/")
    failed = [r for r in results if r.errors and not r.runs]
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:  # servers and databases are already cleaned up
        log(f"interrupted ({interrupt or 'Ctrl+C'}): servers stopped, databases dropped")
        sys.exit(130)
