"""`flask users suspend` without Redis reaches a running server's open connections: the
server's suspension sweep finds the suspension in the database and closes them
(docs/protocol.md "Suspended accounts"). A real server process on SQLite, as `make run` (and
`make serve`, gevent) starts it, and the command in a process of its own."""

import subprocess
import sys
import time

import pytest
import socketio

from tests.support.live import ROOT, live_server
from tests.support.realclients import InOrderClient, bot, wait_for_event
from tests.support.services import wait_until

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]


@pytest.mark.parametrize("production", [False, True], ids=["flask-run", "gunicorn-gevent"])
def test_a_suspension_from_the_command_line_closes_open_connections(tmp_path, production):
    database_url = f"sqlite:///{tmp_path / 'chat.db'}"
    with live_server(
        database_url,
        tmp_path / "server.log",
        production=production,
        SUSPENSION_SWEEP_SECONDS="1",
    ) as server:
        seen = []
        token = server.token("sw-bob")
        bob = InOrderClient(reconnection=False)
        bob.on("account_suspended", lambda data: seen.append(("account_suspended", data)))
        bob.on("disconnect", lambda *reason: seen.append(("disconnect",)))
        bob.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
        assert bob.call("join", {"room": "general"}, timeout=5)["ok"]
        alice = bot(server, "sw-alice")
        assert alice.call("join", {"room": "general"}, timeout=5)["ok"]

        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "flask", "users", "suspend", "sw-bob", "--reason", "spam"],
            cwd=ROOT,
            env=server.env,  # the same database, and no Redis
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "sw-bob is suspended." in result.stdout
        assert "within 1 s" in result.stdout, result.stdout

        # told first, then closed by the server, within the sweep's period (and some slack)
        assert wait_until(lambda: not bob.connected, timeout=8), server.log_path.read_text()
        assert time.monotonic() - started < 8
        assert seen == [("account_suspended", {}), ("disconnect",)]
        # the others see bob leave, as when any connection closes, and stay connected
        assert wait_for_event(
            alice,
            "presence",
            lambda p: p == {"room": "general", "user": "sw-bob", "status": "left"},
        )
        assert alice.call("message", {"room": "general", "text": "still here"}, timeout=5)["ok"]
        alice.disconnect()

        # and bob's token no longer connects
        errors = []
        again = socketio.Client(reconnection=False)
        again.on("connect_error", errors.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            again.connect(
                server.url, auth={"token": token}, transports=["websocket"], wait_timeout=5
            )
        assert errors == [{"message": "suspended"}]
