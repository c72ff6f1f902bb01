"""Crashes and shutdowns: SIGKILL in a send storm and SIGTERM lose no acknowledged message."""

import signal
import threading
import time
from collections.abc import Callable

import pytest

from tests.live import LiveServer
from tests.realclients import InOrderClient

SENDERS = 6
FAST_SERVER = {
    "MESSAGE_RATE": "100000",
    "MESSAGE_BURST": "100000",
    "EVENT_RATE": "100000",
    "EVENT_BURST": "100000",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
}


class Sender:
    """Sends numbered messages with client_ids as fast as acks come back, until stopped."""

    def __init__(self, server: LiveServer, username: str, room: str):
        self.username, self.room = username, room
        self.acked: dict[str, dict] = {}  # client_id -> message as acked
        self.unacked: dict[str, str] = {}  # client_id -> text sent without an ack back
        self.sio = InOrderClient(reconnection=False)
        self.sio.connect(
            server.url,
            auth={"token": server.token(username)},
            transports=["websocket"],
            wait_timeout=10,
        )
        assert self.sio.call("join", {"room": room}, timeout=10)["ok"]

    def storm(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            client_id, text = f"{self.username}-{n}", f"{self.username} message {n}"
            self.unacked[client_id] = text
            try:
                ack = self.sio.call(
                    "message", {"room": self.room, "text": text, "client_id": client_id}, timeout=5
                )
            except Exception:  # the server went away mid-call
                return
            if ack.get("ok"):
                self.acked[client_id] = ack["message"]
                del self.unacked[client_id]
            n += 1


def storm(senders: list[Sender], during: Callable[[], None], join_timeout: float = 10) -> None:
    """Every sender sends flat out on a thread of its own while `during()` runs."""
    stop = threading.Event()
    threads = [threading.Thread(target=s.storm, args=(stop,), daemon=True) for s in senders]
    for thread in threads:
        thread.start()
    try:
        during()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=join_timeout)


def storm_then(server: LiveServer, stop_server, room: str) -> list[Sender]:
    senders = [Sender(server, f"sender{n}", room) for n in range(SENDERS)]

    def until_300_acked_then_stop_the_server() -> None:
        deadline = time.monotonic() + 10
        while sum(len(s.acked) for s in senders) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop_server()

    storm(senders, until_300_acked_then_stop_the_server)
    return senders


def stored_messages(server: LiveServer, room: str) -> list[dict]:
    reader = InOrderClient(reconnection=False)
    reader.connect(server.url, auth={"token": server.token("reader")}, transports=["websocket"])
    messages, before = [], None
    while True:
        page = reader.call(
            "history", {"room": room, "limit": 100, **({"before": before} if before else {})}
        )
        if not page["ok"] and page["error"]["code"] == "rate_limited":
            time.sleep(page["error"]["retry_after"])  # a polite reader: the history budget
            continue
        messages[:0] = page["messages"]
        if not page["has_more"]:
            break
        before = page["messages"][0]["id"]
    reader.disconnect()
    return messages


def assert_every_ack_stored(senders: list[Sender], stored: list[dict]) -> int:
    by_id = {m["id"]: m for m in stored}
    acked = [m for s in senders for m in s.acked.values()]
    assert len(acked) >= 300
    for message in acked:
        assert by_id.get(message["id"]) == message  # same id, text, ts, client_id
    assert [m["id"] for m in stored] == list(range(1, len(stored) + 1))
    return len(acked)


@pytest.mark.timeout(90)
def test_sigkill_during_a_send_storm_loses_no_acknowledged_message(tmp_path):
    server = LiveServer(f"sqlite:///{tmp_path / 'kill.db'}", tmp_path / "server.log", **FAST_SERVER)
    server.start()
    try:
        senders = storm_then(server, server.kill, "storm")
        assert server.process.returncode == -signal.SIGKILL
        server.start()
        stored = stored_messages(server, "storm")
        acked = assert_every_ack_stored(senders, stored)

        # Retrying every unacknowledged send with its client_id stores each exactly once.
        for sender in senders:
            if not sender.unacked:
                continue
            again = Sender(server, sender.username, "storm")
            for client_id, text in sender.unacked.items():
                ack = again.sio.call(
                    "message", {"room": "storm", "text": text, "client_id": client_id}
                )
                assert ack["ok"] and ack["message"]["client_id"] == client_id
            again.sio.disconnect()
        stored = stored_messages(server, "storm")
        client_ids = [m["client_id"] for m in stored]
        assert len(client_ids) == len(set(client_ids))
        print(f"\nsigkill: acked={acked} stored_after_retries={len(stored)}")
    finally:
        server.stop()


@pytest.mark.timeout(90)
def test_sigterm_closes_clients_who_reconnect_and_loses_nothing(tmp_path):
    server = LiveServer(f"sqlite:///{tmp_path / 'term.db'}", tmp_path / "server.log", **FAST_SERVER)
    server.start()
    try:
        watcher = InOrderClient(
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5
        )
        reasons, connects = [], []
        watcher.on("disconnect", reasons.append)
        watcher.on("connect", lambda: connects.append(time.monotonic()))
        watcher.connect(
            server.url, auth={"token": server.token("watcher")}, transports=["websocket"]
        )

        def terminate():
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=15) == 0  # drained and exited cleanly

        senders = storm_then(server, terminate, "storm")
        # a dropped connection, not a Socket.IO disconnect: clients come back (checked below)
        # instead of staying away as after "io server disconnect"
        assert reasons[:1] == [InOrderClient.reason.TRANSPORT_ERROR]

        server.start()  # same port: the watcher comes back by itself
        deadline = time.monotonic() + 15
        while len(connects) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(connects) >= 2
        watcher.disconnect()
        assert_every_ack_stored(senders, stored_messages(server, "storm"))
        assert "shutdown: closed" in server.log_path.read_text()
    finally:
        server.stop()
