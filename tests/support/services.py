"""The real services the scale-out tests run against: a private redis-server, a throwaway
PostgreSQL database, nginx with the shipped deploy/nginx.conf, and the servers' JSON logs."""

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.live import ROOT, LiveServer, free_port

CI = os.environ.get("CI") == "true"
# The negative control of conftest.py: servers without REDIS_URL, each on its own.
WITHOUT_REDIS = os.environ.get("SCALEOUT_WITHOUT_REDIS") == "1"
# The PostgreSQL the throwaway databases are created in (trust auth on this machine).
POSTGRES_ADMIN_URL = os.environ.get(
    "SCALEOUT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NGINX = "/usr/sbin/nginx"
SHIPPED_NGINX_CONF = ROOT / "deploy" / "nginx.conf"
SHIPPED_BACKENDS = ["127.0.0.1:8001", "127.0.0.1:8002"]
STICKY_DIRECTIVE = re.compile(r"^[ \t]*hash[ \t]+\$remote_addr[ \t]+consistent;[ \t]*\n", re.M)


def unavailable(reason: str):
    """A service these tests need is missing: skip, except in CI, where that is a failure."""
    if CI:
        pytest.fail(f"scale-out tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def wait_until(predicate, timeout: float, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes
    (the last falsy value is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisServer:
    """`redis-server` on a free port of 127.0.0.1, nothing persisted."""

    def __init__(self, folder: Path):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = folder / "redis.log"
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> "RedisServer":
        import redis

        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.client = redis.Redis.from_url(self.url, socket_timeout=2)

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{self.log_path.read_text()}")
            try:
                return self.client.ping()
            except redis.RedisError:
                return False

        if not wait_until(answers, timeout):
            self.stop()
            raise RuntimeError(f"redis-server did not answer PING:\n{self.log_path.read_text()}")
        return self

    def flush(self) -> None:
        """Forget everything: no presence, bucket or heartbeat of an earlier test survives."""
        self.client.flushall()

    def stop(self) -> None:
        if self.process:
            self.client.close()
            _stop(self.process, signal.SIGKILL)


class PostgresDatabase:
    """`chat_test_<random>` on the local PostgreSQL, migrated with `flask db upgrade`."""

    def __init__(self, admin_url: str = POSTGRES_ADMIN_URL):
        self.admin_url = admin_url
        self.name = f"chat_test_{secrets.token_hex(6)}"
        parts = urlsplit(admin_url)
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    def _admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3)

    def reachable(self) -> str | None:
        """None when PostgreSQL answers, else why not."""
        import psycopg

        try:
            with self._admin():
                return None
        except psycopg.Error as exc:
            return f"PostgreSQL is not reachable at {self.admin_url}: {exc}".strip()

    def create(self) -> "PostgresDatabase":
        """Create the database; an unreachable PostgreSQL skips the test (fails it in CI)."""
        from psycopg import sql

        if reason := self.reachable():
            unavailable(reason)
        with self._admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return self

    def migrate(self, log_path: Path, **env: str) -> None:
        """What an operator runs before starting the servers: `flask db upgrade`."""
        settings = LiveServer(self.url, log_path, production=True, init_db=False, **env).env
        done = subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=ROOT,
            env=settings,
            capture_output=True,
            text=True,
            timeout=60,
        )
        log_path.write_text(done.stdout + done.stderr)
        if done.returncode:
            raise RuntimeError(f"flask db upgrade failed:\n{done.stdout}{done.stderr}")

    def drop(self) -> None:
        from psycopg import sql

        with self._admin() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


def nginx_site_config(backends: list[str], port: int, *, sticky: bool = True) -> str:
    """deploy/nginx.conf with its two backends and its `listen` replaced; without `sticky`,
    its `hash` line is removed, which leaves nginx's default: round-robin."""
    text = SHIPPED_NGINX_CONF.read_text()
    servers = re.findall(r"^[ \t]*server[ \t]+(\S+?);", text, re.M)
    assert servers == SHIPPED_BACKENDS, f"deploy/nginx.conf upstream servers changed: {servers}"
    assert len(backends) == len(SHIPPED_BACKENDS)
    for shipped, backend in zip(SHIPPED_BACKENDS, backends, strict=True):
        text = text.replace(f"server {shipped};", f"server {backend};")
    assert text.count("listen 80;") == 1, "deploy/nginx.conf should `listen 80;` once"
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    assert len(STICKY_DIRECTIVE.findall(text)) == 1, "deploy/nginx.conf lost its hash line"
    if not sticky:
        text = STICKY_DIRECTIVE.sub("", text)
    return text


class Nginx:
    """Debian's nginx in the foreground, with its own prefix, pid, logs and temp paths under
    `folder`, including a copy of the shipped config with ports substituted."""

    def __init__(self, folder: Path, backends: list[str], *, sticky: bool = True):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.error_log = folder / "error.log"
        self.access_log = folder / "access.log"
        self.site = folder / "chat.conf"
        self.site.write_text(nginx_site_config(backends, self.port, sticky=sticky))
        # Workers drop to `nobody` when the master runs as root: they could not reach
        # pytest's private tmp directory, so as root they keep the master's user.
        user = f"user {pwd.getpwuid(0).pw_name};" if os.geteuid() == 0 else ""
        self.conf = folder / "nginx.conf"
        self.conf.write_text(
            f"""\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {folder}/nginx.pid;
error_log {self.error_log} info;
events {{
    worker_connections 1024;
}}
http {{
    log_format scaleout '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {self.access_log} scaleout;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {self.site};
}}
"""
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> "Nginx":
        command = [NGINX, "-p", f"{self.folder}/", "-c", str(self.conf), "-e", str(self.error_log)]
        with (self.folder / "stderr.log").open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

        def listening() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.logs()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        if not wait_until(listening, timeout):
            self.stop()
            raise RuntimeError(f"nginx did not listen on {self.port}:\n{self.logs()}")
        return self

    def logs(self) -> str:
        parts = [self.folder / "stderr.log", self.error_log]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def access(self) -> list[dict]:
        """nginx's access log: remote_addr, request, status, upstream per request."""
        if not self.access_log.exists():
            return []
        pattern = re.compile(r'^(\S+) "([^"]*)" (\d+) upstream=(\S*)$')
        entries = []
        for line in self.access_log.read_text().splitlines():
            match = pattern.match(line)
            if match:
                ip, request, status, upstream = match.groups()
                entries.append(
                    {"ip": ip, "request": request, "status": int(status), "upstream": upstream}
                )
        return entries

    def stop(self) -> None:
        if self.process:
            _stop(self.process, signal.SIGTERM, timeout=5)


def json_log(server: LiveServer) -> list[dict]:
    """The JSON lines a gunicorn server wrote (gunicorn.conf.py's logconfig)."""
    if not server.log_path.exists():
        return []
    entries = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return entries


def access_requests(server: LiveServer) -> list[str]:
    """The request lines in a gunicorn server's access log."""
    return [e["message"] for e in json_log(server) if e.get("logger") == "gunicorn.access"]
