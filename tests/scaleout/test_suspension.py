"""Suspending an account closes its connections on every server process: two gunicorn servers
on one Redis, the user connected to B, the suspension made through A's admin page or by
`flask users suspend` in a process of its own (docs/protocol.md "Suspended accounts")."""

import re
import subprocess
import sys
import time

import pytest
import requests
import socketio

from tests.support.accounts import PASSWORD, register
from tests.support.chatter import Chatter
from tests.support.live import ROOT
from tests.support.services import wait_until

pytestmark = pytest.mark.timeout(90)


def flask_cli(server, *args: str) -> subprocess.CompletedProcess:
    """`flask ARGS...` in a process of its own, configured like `server` (its database, its
    Redis)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def signed_in_admin(server, username: str) -> requests.Session:
    """A browser session of `username` on `server`, made an admin with `flask users admin`."""
    register(server, username)
    assert flask_cli(server, "users", "admin", username).returncode == 0
    browser = requests.Session()
    form = browser.get(f"{server.url}/auth/login", timeout=5).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    signed_in = browser.post(
        f"{server.url}/auth/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=5,
    )
    assert signed_in.status_code == 302, signed_in.text
    return browser


def refusal(server, token: str):
    """What `connect_error` said to a connection with `token`."""
    errors = []
    client = socketio.Client(reconnection=False)
    client.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    return errors[0] if errors else None


def assert_told_and_closed(chatter: Chatter) -> None:
    started = time.monotonic()
    assert chatter.wait("account_suspended", timeout=5) == [{}], chatter.url
    assert wait_until(lambda: not chatter.sio.connected, timeout=5), chatter.url
    assert time.monotonic() - started < 5


def test_the_admin_page_on_one_process_closes_connections_on_the_other(start_servers):
    a, b = start_servers(2)
    browser = signed_in_admin(a, "xs-root")
    bob_on_b = Chatter.on(b, "xs-bob")
    bob_on_a = Chatter.on(a, "xs-bob")
    alice_on_b = Chatter.on(b, "xs-alice")
    bob_on_b.join("xs-room")
    alice_on_b.join("xs-room")

    page = browser.get(f"{a.url}/admin/?q=xs-bob", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    done = browser.post(
        f"{a.url}/admin/users/xs-bob/suspend",
        data={"csrf_token": token, "reason": "spam"},
        timeout=10,
    )
    assert done.status_code == 200 and "xs-bob is suspended." in done.text

    assert_told_and_closed(bob_on_b)
    assert_told_and_closed(bob_on_a)
    assert alice_on_b.sio.connected and alice_on_b.received("account_suspended") == []
    # B forgot the connection like any other that closed
    assert alice_on_b.wait(
        "presence", where=lambda p: p["user"] == "xs-bob" and p["status"] == "left"
    )
    alice_on_b.close()


def test_the_command_line_reaches_the_servers_through_redis(start_servers):
    a, b = start_servers(2)
    token = b.token("xs-carol")
    carol = Chatter(b.url, token, "xs-carol")
    carol.join("xs-cli")

    result = flask_cli(a, "users", "suspend", "xs-carol", "--reason", "abuse")
    assert result.returncode == 0, result.stderr
    assert "xs-carol is suspended." in result.stdout
    assert "Closed 1 open connection(s)." in result.stdout

    assert_told_and_closed(carol)
    # and the token is refused on both processes from now on
    for server in (a, b):
        assert refusal(server, token) == {"message": "suspended"}
        answer = requests.post(
            f"{server.url}/api/tokens",
            json={"username": "xs-carol", "password": PASSWORD},
            timeout=5,
        )
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "suspended"
