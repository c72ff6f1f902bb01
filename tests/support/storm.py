"""Send storms against a live server: senders posting flat out with client_ids, and what the
server stored afterwards (for the crash, shutdown and ordering tests)."""

import threading
import time
from collections.abc import Callable

from tests.support.live import LiveServer
from tests.support.realclients import connect_as

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
        self.sio = connect_as(server, username, wait_timeout=10)
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


def stored_messages(server: LiveServer, room: str) -> list[dict]:
    reader = connect_as(server, "reader")
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
