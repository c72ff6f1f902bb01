"""Soak: many real clients over WebSocket, some also editing, deleting and reacting, random
clean and abrupt reconnects (rejoining with since + rev), then an audit of every delivery and
of every client's copy of its rooms against what the server stored."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.audit import AuditingClient, audit
from tests.support.live import live_server
from tests.support.realclients import InOrderClient
from tests.support.replica import read_room
from tests.support.storm import FAST_SERVER

pytestmark = pytest.mark.soak

CLIENTS = int(__import__("os").environ.get("SOAK_CLIENTS", 50))
ROOMS = [f"soak-{n}" for n in range(5)]
MESSAGES_PER_CLIENT = 50
RECONNECT_CHANCE = 0.04
TINKERERS = 2  # every other client also edits, deletes and reacts...
TINKER_CHANCE = 0.15  # ...after this share of its sends
SEED = 20261122

SOAK_SERVER = {
    **FAST_SERVER,
    # the audit reads every message back with `history`, and the senders go flat out
    "HISTORY_RATE": "100000",
    "HISTORY_BURST": "100000",
    "REACT_RATE": "100000",
    "REACT_BURST": "100000",
}


def stored_rooms(server, token: str) -> dict[str, list[dict]]:
    """Every message the server stored per room, in its current state, read back through
    `history`."""
    reader = InOrderClient(reconnection=False)
    reader.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    stored = {room: read_room(lambda e, p: reader.call(e, p, timeout=10), room) for room in ROOMS}
    reader.disconnect()
    return stored


def wait_until_delivered(clients, stored, timeout=15.0) -> None:
    """Until every client holds every stored message and the room's latest revision."""
    last = {room: (len(ms), max((m["rev"] for m in ms), default=0)) for room, ms in stored.items()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(
            (client.last_id(room), client.views[room].rev) >= last[room]
            for client in clients
            for room in client.rooms
        ):
            return
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_soak_every_client_gets_every_message_once_in_order(tmp_path):
    rng = random.Random(SEED)
    with live_server(
        f"sqlite:///{tmp_path / 'soak.db'}", tmp_path / "server.log", **SOAK_SERVER
    ) as server:
        tokens = _register(server, [f"user{n:02d}" for n in range(CLIENTS)] + ["auditor"])
        clients = [
            AuditingClient(
                server.url,
                f"user{n:02d}",
                tokens[f"user{n:02d}"],
                [ROOMS[n % len(ROOMS)], ROOMS[(n + 1) % len(ROOMS)]],
                random.Random(rng.random()),
            )
            for n in range(CLIENTS)
        ]
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(AuditingClient.connect, clients))
        started = threading.Event()
        errors = []

        def run(client: AuditingClient) -> None:
            started.wait()
            for n in range(MESSAGES_PER_CLIENT):
                room = client.rng.choice(client.rooms)
                ack = client.send(room, f"{client.username} says {n}", f"{client.username}-{n}")
                if not ack.get("ok"):
                    errors.append((client.username, n, ack))
                if tinkerer(client) and client.rng.random() < TINKER_CHANCE:
                    ack = client.tinker(client.rng.choice(client.rooms))
                    if not ack.get("ok"):
                        errors.append((client.username, n, ack))
                if client.rng.random() < RECONNECT_CHANCE:
                    client.reconnect()

        began = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(run, client) for client in clients]
            started.set()
            for future in futures:
                future.result()
        sending_took = time.monotonic() - began

        stored = stored_rooms(server, tokens["auditor"])
        wait_until_delivered(clients, stored)
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(AuditingClient.close, clients))

    report = audit(clients, stored)
    reconnects = sum(client.reconnects for client in clients)
    print(f"\nsoak: {report} reconnects={reconnects} sending_took={sending_took:.1f}s")
    assert errors == []
    assert report.problems == []
    assert report.messages_acked == CLIENTS * MESSAGES_PER_CLIENT
    assert sum(len(ms) for ms in stored.values()) == CLIENTS * MESSAGES_PER_CLIENT
    assert reconnects > 0
    assert (report.lost, report.duplicated, report.out_of_order, report.foreign) == (0, 0, 0, 0)
    # the changes happened, some clients missed some and caught up with them on rejoining
    assert report.changes_acked > CLIENTS * MESSAGES_PER_CLIENT * TINKER_CHANCE / TINKERERS / 2
    assert report.updates_caught > 0
    assert report.states_differing == 0
    kinds = {event for client in clients for _, event, _ in client.changes}
    assert kinds == {"edit", "delete", "react"}


def tinkerer(client: AuditingClient) -> bool:
    return int(client.username.removeprefix("user")) % TINKERERS == 0


def _register(server, usernames: list[str]) -> dict[str, str]:
    def token(username: str) -> tuple[str, str]:
        credentials = {"username": username, "password": "soak password"}
        requests.post(f"{server.url}/api/users", json=credentials, timeout=10)
        issued = requests.post(f"{server.url}/api/tokens", json=credentials, timeout=10)
        issued.raise_for_status()
        return username, issued.json()["token"]

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(token, usernames))
