"""What a run ran on, for the report: the machine, its pinning, and every version that matters."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path

from bench.databases import postgres_version
from bench.processes import cores
from bench.settings import BENCH

DISTRIBUTIONS = (
    "flask",
    "flask-socketio",
    "python-socketio",
    "python-engineio",
    "simple-websocket",
    "gevent",
    "gunicorn",
    "sqlalchemy",
    "psycopg",
)


def versions(with_postgres: bool) -> dict[str, str]:
    """Python, the server's packages, SQLite, PostgreSQL (when a row ran on it), Node and the
    Node packages, in the order the report lists them."""
    found = {"Python": platform.python_version()}
    for dist in DISTRIBUTIONS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    found["SQLite"] = sqlite3.sqlite_version
    if with_postgres:
        found["PostgreSQL"] = postgres_version()
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


def package_version(package: str) -> str:
    """The installed version of a Node package in bench/node_modules, else its pin."""
    installed = BENCH / "node_modules" / package / "package.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(installed.read_text())["version"]
    with contextlib.suppress(OSError, ValueError, KeyError):
        return (
            json.loads((BENCH / "package.json").read_text())["dependencies"][package] + " (pinned)"
        )
    return "?"


def machine() -> str:
    """Cores, CPU model, memory and kernel on one line."""
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
    return f"{os.cpu_count()} cores (nproc {cores()}), {model}{memory}, Linux {platform.release()}"


def pinning() -> str:
    """How the server and the generator shared the cores."""
    if cores() >= 2:
        return "server pinned to core 0 (`taskset -c 0`), load generator to core 1 (`taskset -c 1`)"
    return "one core: server and generator share it (no taskset)"
