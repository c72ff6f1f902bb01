"""Run the real app in a child process on a free local port, for real-client tests."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.accounts import PASSWORD, sign_up

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`flask run` (threading mode, as `make run` starts it) or, with `production`, gunicorn
    with the gevent worker (as `make serve` starts it), on a throwaway database."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        production: bool = False,
        init_db: bool = True,
        own_process_group: bool = False,
        wsgi_app: str = "wsgi:app",
        **env: str,
    ):
        """`init_db=False` skips `flask init-db` before each start (a database that is already
        migrated, shared by several servers). `own_process_group`: the server leads a process
        group of its own (gunicorn's master and worker), which a test may signal as a whole
        (`os.killpg`) as a process manager does. `wsgi_app`: what gunicorn serves."""
        self.production = production
        self.init_db = init_db
        self.own_process_group = own_process_group
        self.wsgi_app = wsgi_app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        inherited = dict(os.environ)
        # Never the machine's own Redis: a test that wants one passes REDIS_URL explicitly.
        inherited.pop("REDIS_URL", None)
        self.env = {
            **inherited,
            "APP_ENV": "production" if production else "development",
            "SESSION_COOKIE_SECURE": "0",  # the tests speak plain http
            "SECRET_KEY": "live-test-secret-key-0123456789abcdef",
            "DATABASE_URL": database_url,
            "FLASK_APP": "wsgi",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            # the tests sign many users in from 127.0.0.1; a test of the limits turns them on
            "RATELIMIT_ENABLED": "0",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "LiveServer":
        self.spawn()
        return self.wait_ready(timeout)

    def spawn(self) -> "LiveServer":
        """Start the process without waiting for it to listen (start several, then wait)."""
        flask = [sys.executable, "-m", "flask"]
        if self.init_db:
            subprocess.run(
                [*flask, "init-db"], cwd=ROOT, env=self.env, check=True, capture_output=True
            )
        log = self.log_path.open("ab")
        serve = [*flask, "run", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.production:  # what `make serve` runs: gunicorn, gevent worker
            serve = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", self.wsgi_app]
        self.process = subprocess.Popen(
            serve,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=self.own_process_group,
        )
        log.close()  # the child has its own copy
        return self

    def wait_ready(self, timeout: float = 20.0) -> "LiveServer":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                requests.get(f"{self.url}/auth/login", timeout=2)
                return self
            except requests.RequestException:  # not listening yet, or gunicorn's worker booting
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash or an OOM kill."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def post(self, path: str, **kwargs) -> requests.Response:
        """POST to this server (`path` from the root), as a test client would."""
        return requests.post(f"{self.url}{path}", timeout=5, **kwargs)

    def token(self, username: str, password: str = PASSWORD) -> str:
        """Register `username` (if new) and return a fresh API token."""
        return sign_up(self, username, password, new=False)


@contextmanager
def live_server(database_url: str, log_path: Path, **env: str):
    server = LiveServer(database_url, log_path, **env).start()
    try:
        yield server
    finally:
        server.stop()
