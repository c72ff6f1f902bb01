"""Clients that record every delivery per room, and the audit of what they received."""

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.support.realclients import InOrderClient


@dataclass
class AuditingClient:
    """One user's connection (replaced on each reconnect) and every id it was delivered."""

    url: str
    username: str
    token: str
    rooms: list[str]
    rng: random.Random
    received: dict[str, list[int]] = field(default_factory=dict)
    foreign: list[dict] = field(default_factory=list)  # deliveries for rooms never joined
    acked: list[tuple[str, int]] = field(default_factory=list)
    reconnects: int = 0
    sio: InOrderClient | None = None

    def __post_init__(self):
        self.received = {room: [] for room in self.rooms}

    def on_message(self, message: dict) -> None:
        if message["room"] in self.received:
            self.received[message["room"]].append(message["id"])
        else:
            self.foreign.append(message)

    def last_id(self, room: str) -> int:
        return max(self.received[room], default=0)

    def connect(self) -> None:
        self.sio = InOrderClient(reconnection=False)
        self.sio.on("message", self.on_message)
        self.sio.connect(
            self.url, auth={"token": self.token}, transports=["websocket"], wait_timeout=10
        )
        for room in self.rooms:
            self.join(room)

    def join(self, room: str) -> None:
        done = threading.Event()
        failure = []

        def on_ack(ack):  # runs on the read thread, in wire order with the events
            if ack.get("ok"):
                self.received[room].extend(m["id"] for m in ack["messages"])
            else:
                failure.append(ack)
            done.set()

        payload = {"room": room, "since": self.last_id(room)} if self.reconnects else {"room": room}
        self.sio.emit("join", payload, callback=on_ack)
        if not done.wait(10) or failure:
            raise AssertionError(f"{self.username} could not join {room}: {failure or 'timeout'}")

    def reconnect(self) -> None:
        """Drop the connection, mostly abruptly (as a network failure would), and come back."""
        if self.rng.random() < 0.25:
            self.sio.disconnect()
        else:
            self.sio.eio.ws.sock.shutdown(socket.SHUT_RDWR)
            deadline = time.monotonic() + 10
            while self.sio.connected and time.monotonic() < deadline:
                time.sleep(0.01)
            self.sio.disconnect()  # reaps the client's threads; the server already saw a drop
        self.reconnects += 1
        self.connect()

    def send(self, room: str, text: str, client_id: str) -> dict:
        ack = self.sio.call(
            "message", {"room": room, "text": text, "client_id": client_id}, timeout=15
        )
        if ack.get("ok"):
            self.acked.append((room, ack["message"]["id"]))
        return ack

    def close(self) -> None:
        if self.sio is not None and self.sio.connected:
            self.sio.disconnect()


@dataclass
class AuditReport:
    clients: int = 0
    messages_acked: int = 0
    deliveries_checked: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    foreign: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"clients={self.clients} messages_acked={self.messages_acked} "
            f"deliveries_checked={self.deliveries_checked} lost={self.lost} "
            f"duplicated={self.duplicated} out_of_order={self.out_of_order} "
            f"wrong_room={self.foreign}"
        )


def audit(clients: list[AuditingClient], stored: dict[str, list[int]]) -> AuditReport:
    """Compare what every client received, room by room, with what the server stored."""
    report = AuditReport(clients=len(clients))
    report.messages_acked = sum(len(client.acked) for client in clients)
    acked = Counter(pair for client in clients for pair in client.acked)
    for (room, message_id), times in acked.items():
        if times > 1:
            report.problems.append(f"{room}#{message_id} acked to {times} different sends")
    stored_pairs = {(room, message_id) for room, ids in stored.items() for message_id in ids}
    if missing := set(acked) - stored_pairs:
        report.problems.append(f"acked but not stored: {sorted(missing)[:10]}")
    for room, ids in stored.items():
        if ids != list(range(1, len(ids) + 1)):
            report.problems.append(f"{room}: stored ids are not 1..{len(ids)}")
    for client in clients:
        report.foreign += len(client.foreign)
        for room, got in client.received.items():
            expected = stored.get(room, [])
            report.deliveries_checked += len(got)
            report.lost += len(set(expected) - set(got))
            report.duplicated += len(got) - len(set(got))
            report.out_of_order += sum(1 for a, b in zip(got, got[1:], strict=False) if b <= a)
    return report
