"""The servers under test as processes: pinned to a core, watched through /proc, stopped."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.settings import CLOCK_TICKS, NOFILE, PAGE_KIB, ROOT, VENV_BIN, ServerConfig


def raise_nofile() -> None:
    """preexec_fn: runs in the child before exec; 10,000 connections need the descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def pinned(core: int, argv: list[str]) -> list[str]:
    """`argv` under `taskset -c core`, or unchanged on one core or without taskset."""
    taskset = shutil.which("taskset")
    if cores() < 2 or taskset is None:
        return argv
    return [taskset, "-c", str(core), *argv]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
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
    """The direct children of `pid` (from /proc, else pgrep)."""
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
    """CPU time `pid` has used (user + system, in clock ticks); None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of stat)


def rss_kib(pid: int) -> int | None:
    """Resident memory of `pid` in KiB; None once it is gone."""
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


def server_env(base: dict, *, production: bool, database_url: str, secret: str) -> dict:
    """This server's environment: the shipped configuration on a throwaway database, with the
    rate limits lifted (a load generator is a flood) and nothing inherited that would change it."""
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
        # the budgets every event and every join is charged to, per connection
        EVENT_RATE="1000000",
        EVENT_BURST="1000000",
        JOIN_RATE="1000000",
        JOIN_BURST="1000000",
        PYTHONUNBUFFERED="1",
    )
    return env


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
        """Start the server and return once it answers and its working process is known."""
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                pinned(0, self.argv),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_nofile,
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
        """The end of the server's log, for an error message."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def server_for(
    config: ServerConfig, database_url: str | None, secret: str, reference: Path, log_path: Path
) -> Server:
    """The server of `config` on a free port (not started): gunicorn as `make serve` runs it,
    `flask run` as `make run` does, or the Node reference."""
    port = free_port()
    if config.kind == "node":
        argv = ["node", str(reference), "--port", str(port)]
        env = dict(os.environ)
    elif config.kind == "gunicorn":
        argv = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
        env = server_env(os.environ, production=True, database_url=database_url, secret=secret)
        env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    else:
        argv = [str(VENV_BIN / "flask"), "--app", "wsgi", "run", "--port", str(port)]
        env = server_env(os.environ, production=False, database_url=database_url, secret=secret)
    return Server(config, argv, env, port, log_path)
