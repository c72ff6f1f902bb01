"""Clients that record every delivery per room, and the audit of what they received."""

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.support.realclients import InOrderClient
from tests.support.replica import RoomView, drop

EMOJI = ("👍", "🎉", "❤️", "+1")


@dataclass
class AuditingClient:
    """One user's connection (replaced on each reconnect), every id it was delivered, and its
    copy of each room kept by room revision (rejoining with since + rev)."""

    url: str
    username: str
    token: str
    rooms: list[str]
    rng: random.Random
    received: dict[str, list[int]] = field(default_factory=dict)
    foreign: list[dict] = field(default_factory=list)  # deliveries for rooms never joined
    acked: list[tuple[str, int]] = field(default_factory=list)
    reconnects: int = 0
    changes: list[tuple[str, str, dict]] = field(default_factory=list)  # (room, event, acked)
    deleted: set[tuple[str, int]] = field(default_factory=set)  # own messages deleted
    sio: InOrderClient | None = None

    def __post_init__(self):
        self.received = {room: [] for room in self.rooms}
        self.views = {room: RoomView(room, self.username) for room in self.rooms}

    def on_message(self, message: dict) -> None:
        if message["room"] in self.received:
            self.received[message["room"]].append(message["id"])
            self.views[message["room"]].on_event("message", message)
        else:
            self.foreign.append(message)

    def on_updated(self, message: dict) -> None:
        if message["room"] in self.views:
            self.views[message["room"]].on_event("message_updated", message)
        else:
            self.foreign.append(message)

    def last_id(self, room: str) -> int:
        return max(self.received[room], default=0)

    def connect(self) -> None:
        self.sio = InOrderClient(reconnection=False)
        self.sio.on("message", self.on_message)
        self.sio.on("message_updated", self.on_updated)
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
                self.views[room].on_ack(payload, ack)
            else:
                failure.append(ack)
            done.set()

        payload = self.views[room].join_payload()  # since + rev: the messages and the changes
        self.sio.emit("join", payload, callback=on_ack)
        if not done.wait(10) or failure:
            raise AssertionError(f"{self.username} could not join {room}: {failure or 'timeout'}")

    def reconnect(self) -> None:
        """Drop the connection, mostly abruptly (as a network failure would), and come back."""
        drop(self.sio, abrupt=self.rng.random() >= 0.25)
        for view in self.views.values():
            view.disconnected()
        self.reconnects += 1
        self.connect()

    def send(self, room: str, text: str, client_id: str) -> dict:
        ack = self.sio.call(
            "message", {"room": room, "text": text, "client_id": client_id}, timeout=15
        )
        if ack.get("ok"):
            self.acked.append((room, ack["message"]["id"]))
        return ack

    def tinker(self, room: str) -> dict:
        """Edit or delete one of this user's messages in `room`, or react to anyone's (on or
        off, by what this client holds); returns the ack, or `{"ok": True}` with nothing to do.
        The only refusal to expect is `not_found` for a reaction: its author deleted it."""
        state = self.views[room].state()
        live = [i for i, m in state.items() if not m["deleted"]]
        own = [i for r, i in self.acked if r == room and (r, i) not in self.deleted]
        roll = self.rng.random()
        if roll < 0.3 and own:
            event, fields = "edit", {"id": self.rng.choice(own), "text": f"edit {roll:.6f}"}
        elif roll < 0.45 and own:
            event, fields = "delete", {"id": self.rng.choice(own)}
            self.deleted.add((room, fields["id"]))
        elif live:
            target, emoji = self.rng.choice(live), self.rng.choice(EMOJI)
            mine = self.username in state[target]["reactions"].get(emoji, [])
            event, fields = "react", {"id": target, "emoji": emoji, "on": not mine}
        else:
            return {"ok": True}
        ack = self.sio.call(event, {"room": room, **fields}, timeout=15)
        if ack.get("ok"):
            self.changes.append((room, event, ack["message"]))
        elif event == "react" and ack.get("error", {}).get("code") == "not_found":
            return {"ok": True}
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
    changes_acked: int = 0  # edits, deletes and reactions
    rejoins: int = 0  # joins with since + rev after a reconnect
    updates_caught: int = 0  # changes those joins carried in `updates`
    states_differing: int = 0  # (client, room) copies not equal to the stored room
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"clients={self.clients} messages_acked={self.messages_acked} "
            f"deliveries_checked={self.deliveries_checked} lost={self.lost} "
            f"duplicated={self.duplicated} out_of_order={self.out_of_order} "
            f"wrong_room={self.foreign} changes_acked={self.changes_acked} "
            f"rejoins={self.rejoins} updates_caught={self.updates_caught} "
            f"states_differing={self.states_differing}"
        )


def audit(clients: list[AuditingClient], rooms: dict[str, list[dict]]) -> AuditReport:
    """Compare what every client received, room by room, with what the server stored (each
    room's messages in their current state, read back with `history`)."""
    stored = {room: [m["id"] for m in messages] for room, messages in rooms.items()}
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
    _audit_states(clients, rooms, report)
    return report


def _audit_states(clients, rooms: dict[str, list[dict]], report: AuditReport) -> None:
    """Every client's copy of each room equals the stored room, message for message, and
    every acknowledged change is stored (as acked, or superseded by a later revision)."""
    by_id = {room: {m["id"]: m for m in messages} for room, messages in rooms.items()}
    for client in clients:
        for room, view in client.views.items():
            report.rejoins += view.rejoins
            report.updates_caught += view.caught_updates
            report.problems += view.problems
            if differences := view.differences(rooms.get(room, [])):
                report.states_differing += 1
                report.problems += differences[:5]
        for room, event, message in client.changes:
            report.changes_acked += 1
            final = by_id.get(room, {}).get(message["id"])
            if (
                final is None
                or final["rev"] < message["rev"]
                or (final["rev"] == message["rev"] and final != message)
            ):
                report.problems.append(f"{event} acked as {message}, stored as {final}")
