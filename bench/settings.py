"""What a run measures: the two modes, the server configurations, fixed sizes and limits, paths."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "performance.md"
DOC_FIGURES = ROOT / "docs" / "performance"  # --update-docs copies the run's PNGs here
VENV_BIN = Path(sys.executable).parent  # flask, gunicorn and py-spy of the venv running this

NOFILE = 20000  # children get RLIMIT_NOFILE raised up to this (or the hard limit if lower)
GENERATOR_CPU_LIMIT = 80.0  # a step counts only while the generator stays under this
P99_LIMIT_MS = 100.0
CLIENTS = 1000
ROOM_SIZE = 50
SENDERS = CLIENTS // ROOM_SIZE
USERS = 1000
LATENCY_DELIVERIES = 10000
FLASK_CONNECTIONS = 1000  # `flask run` is a development server: no 10,000-thread test
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def deliveries(rate_per_sender: float) -> float:
    """Deliveries/s offered when each room's sender sends `rate_per_sender` messages/s: every
    message reaches the whole room, the sender included."""
    return rate_per_sender * SENDERS * ROOM_SIZE


def log(text: str) -> None:
    """Progress goes to stderr; stdout carries only the final table."""
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Mode:
    """How long and how hard one run measures (full, or quick for a smoke run)."""

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
    """One row of the table: which server, how it is started, what it stores to."""

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
