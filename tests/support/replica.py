"""A client's copy of a room, kept from `join` acks and `message`/`message_updated` events
exactly as docs/protocol.md "Room revisions" tells client authors, checking every delivery
against the protocol's promises (rev order, at most once, no update before its message)."""

import contextlib
import socket
import threading
import time

from tests.support.realclients import InOrderClient


class RoomView:
    """One client's copy of one room across all its connections: the newest state of each
    message it holds, the highest `rev` it has seen, and every broken promise (`problems`)."""

    def __init__(self, room: str, owner: str):
        self.room, self.owner = room, owner
        self.messages: dict[int, dict] = {}
        self.rev = 0  # the highest room revision held (acks' room.rev and every Message's rev)
        self.revs_seen: set[int] = set()
        self.problems: list[str] = []
        self.ack_rev: int | None = None  # the current connection's join ack; None until then
        self.last_event_rev = 0  # the last rev delivered by an event on this connection
        self.last_event = ""  # that event, for problem reports
        self.events = 0
        self.skipped_revs = 0  # revs an event jumped over on a connection that stayed
        self.joins = 0
        self.rejoins = 0
        self.caught_updates = 0  # `updates` received in rejoin acks
        self.caught_messages = 0  # `messages` received in rejoin acks
        self._lock = threading.Lock()

    def last_id(self) -> int:
        with self._lock:
            return max(self.messages, default=0)

    def join_payload(self) -> dict:
        """What a client sends to (re)join: since = the last id held, rev = the highest rev."""
        with self._lock:
            return {"room": self.room, "since": max(self.messages, default=0), "rev": self.rev}

    def _problem(self, text: str) -> None:
        self.problems.append(f"{self.owner} in {self.room}: {text}")

    def _take(self, message: dict) -> None:
        """Keep `message` unless the state held has a higher rev (an old state is ignored)."""
        held = self.messages.get(message["id"])
        if held is None or message["rev"] > held["rev"]:
            self.messages[message["id"]] = message
        self.rev = max(self.rev, message["rev"])

    def _seen(self, rev: int, where: str) -> None:
        if rev in self.revs_seen:
            self._problem(f"rev {rev} delivered twice (again in {where})")
        self.revs_seen.add(rev)

    def on_ack(self, payload: dict, ack: dict) -> None:
        """Apply the ack of `join` `payload` (run on the read thread, in wire order)."""
        with self._lock:
            if not ack.get("ok"):
                self._problem(f"join {payload} refused: {ack}")
                return
            since, given = payload["since"], payload["rev"]
            room_rev = ack["room"]["rev"]
            messages, updates = ack["messages"], ack["updates"]
            if ack["has_more"] or ack["updates_truncated"]:
                self._problem(f"join ack not complete: has_more={ack['has_more']} "
                              f"updates_truncated={ack['updates_truncated']}")  # fmt: skip
            ids = [m["id"] for m in messages]
            if ids != list(range(since + 1, since + 1 + len(ids))):
                self._problem(f"join since={since}: messages ids {ids[:5]}... not from {since + 1}")
            for update in updates:
                if update["id"] > since or update["rev"] <= given:
                    self._problem(
                        f"join since={since} rev={given}: update id={update['id']} "
                        f"rev={update['rev']} outside the range asked"
                    )
            update_revs = [u["rev"] for u in updates]
            if update_revs != sorted(set(update_revs)):
                self._problem(f"updates not in ascending rev: {update_revs}")
            for message in updates + messages:
                if message["rev"] > room_rev:
                    self._problem(f"ack holds rev {message['rev']} > its room.rev {room_rev}")
                self._seen(message["rev"], f"join ack since={since} rev={given}")
                if message["room"] != self.room:
                    self._problem(f"ack of {self.room} carries {message}")
            self.joins += 1
            if self.joins > 1:
                self.rejoins += 1
                self.caught_updates += len(updates)
                self.caught_messages += len(messages)
            for message in updates + messages:
                self._take(message)
            self.rev = max(self.rev, room_rev)
            self.ack_rev = self.last_event_rev = room_rev
            self.last_event = f"the join ack (room.rev {room_rev})"

    def on_event(self, name: str, message: dict) -> None:
        """Apply a `message` or `message_updated` event (on the read thread, in wire order)."""
        with self._lock:
            self.events += 1
            rev, message_id = message["rev"], message["id"]
            if self.ack_rev is None:
                self._problem(f"{name} id={message_id} rev={rev} before the join ack")
            elif rev <= self.last_event_rev:
                self._problem(
                    f"{name} id={message_id} rev={rev} after {self.last_event} "
                    f"(join ack covered up to {self.ack_rev})"
                )
            elif rev > self.last_event_rev + 1 and self.last_event_rev:
                self.skipped_revs += rev - self.last_event_rev - 1
            self._seen(rev, name)
            if name == "message":
                expected = max(self.messages, default=0) + 1
                if message_id != expected:
                    held = self.messages.get(message_id)
                    self._problem(
                        f"message id={message_id} rev={rev} when id {expected} was next "
                        f"(held: rev {held and held['rev']}; join ack covered up to "
                        f"{self.ack_rev}, last event {self.last_event or None})"
                    )
            elif message_id not in self.messages:
                self._problem(f"message_updated id={message_id} rev={rev} before its message")
            if rev > self.last_event_rev:
                self.last_event_rev = rev
                self.last_event = f"{name} id={message_id} rev={rev}"
            self._take(message)

    def disconnected(self) -> None:
        """The connection is gone: the next one starts with a fresh join ack."""
        with self._lock:
            self.ack_rev = None
            self.last_event_rev = 0

    def state(self) -> dict[int, dict]:
        with self._lock:
            return dict(self.messages)

    def differences(self, stored: list[dict]) -> list[str]:
        """How this copy differs from `stored` (a full history read of the room)."""
        held, found = self.state(), {m["id"]: m for m in stored}
        diffs = []
        if missing := sorted(set(found) - set(held)):
            diffs.append(f"{self.owner} lacks ids {missing[:10]} (of {len(missing)})")
        if extra := sorted(set(held) - set(found)):
            diffs.append(f"{self.owner} holds ids never stored: {extra[:10]}")
        for message_id in sorted(set(held) & set(found)):
            mine, theirs = held[message_id], found[message_id]
            if mine != theirs:
                keys = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                diffs.append(
                    f"{self.owner} #{message_id}: "
                    + ", ".join(f"{k}={mine.get(k)!r} vs stored {theirs.get(k)!r}" for k in keys)
                )
        return diffs


def drop(sio: InOrderClient, *, abrupt: bool) -> None:
    """Close a connection: cleanly (a Socket.IO disconnect) or abruptly, as a network failure
    would (the socket shut down under the client; the server only sees it drop)."""
    if abrupt:
        with contextlib.suppress(OSError):  # already gone
            sio.eio.ws.sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 10
        while sio.connected and time.monotonic() < deadline:
            time.sleep(0.01)
    sio.disconnect()  # also reaps the client's threads after an abrupt drop


class ReplicaClient:
    """One user holding copies of some rooms over a connection that may be dropped and
    replaced (on any server process), rejoining with `since` + `rev`."""

    def __init__(self, name: str, token: str, rooms: list[str]):
        self.name, self.token = name, token
        self.views = {room: RoomView(room, name) for room in rooms}
        self.foreign: list[dict] = []  # events of rooms this client never joined
        self.sio: InOrderClient | None = None
        self.url: str | None = None

    def connect(self, url: str) -> "ReplicaClient":
        """Connect to `url` and (re)join every room with since + rev."""
        sio = InOrderClient(reconnection=False)
        sio.on("message", lambda m: self._event("message", m))
        sio.on("message_updated", lambda m: self._event("message_updated", m))
        sio.connect(url, auth={"token": self.token}, transports=["websocket"], wait_timeout=10)
        self.sio, self.url = sio, url
        for room in self.views:
            self.join(room)
        return self

    def _event(self, name: str, message: dict) -> None:
        view = self.views.get(message.get("room"))
        if view is None:
            self.foreign.append(message)
        else:
            view.on_event(name, message)

    def join(self, room: str) -> dict:
        """Join `room` with since + rev; the ack is applied on the read thread, in wire order."""
        view = self.views[room]
        payload = view.join_payload()
        acks: list[dict] = []
        done = threading.Event()

        def on_ack(ack):
            view.on_ack(payload, ack)
            acks.append(ack)
            done.set()

        self.sio.emit("join", payload, callback=on_ack)
        if not done.wait(10):
            raise AssertionError(f"{self.name}: no ack to join {payload}")
        return acks[0]

    def call(self, event: str, payload: dict, timeout: float = 10) -> dict:
        return self.sio.call(event, payload, timeout=timeout)

    def drop(self, *, abrupt: bool) -> None:
        drop(self.sio, abrupt=abrupt)
        for view in self.views.values():
            view.disconnected()

    def close(self) -> None:
        if self.sio is not None and self.sio.connected:
            self.sio.disconnect()

    def problems(self) -> list[str]:
        found = [p for view in self.views.values() for p in view.problems]
        return found + [f"{self.name} got an event of a room it never joined: {m}" for m in
                        self.foreign[:3]]  # fmt: skip


def close_all(clients) -> None:
    """Close many clients at once: a clean close waits for the server's WebSocket close frame
    (websocket-client gives it up to 3 s), so one after the other adds up. Takes
    ReplicaClients and bare python-socketio clients."""
    closers = [getattr(c, "close", None) or c.disconnect for c in clients]
    threads = [threading.Thread(target=close) for close in closers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)


def read_room(call, room: str) -> list[dict]:
    """Every message of `room` in its current state, oldest first, through `history` pages;
    `call(event, payload)` answers an ack (waiting out `rate_limited`)."""
    messages: list[dict] = []
    before = None
    while True:
        page = call(
            "history", {"room": room, "limit": 100, **({"before": before} if before else {})}
        )
        if not page["ok"] and page["error"]["code"] == "rate_limited":
            time.sleep(page["error"]["retry_after"])
            continue
        assert page["ok"], page
        messages[:0] = page["messages"]
        if not page["has_more"]:
            return messages
        before = page["messages"][0]["id"]


def quote_problems(stored: list[dict]) -> list[str]:
    """What is wrong in a room's stored messages as the protocol defines them: gapless ids,
    one rev per change, tombstones, reply quotes that follow their message, sorted reactors."""
    by_id = {m["id"]: m for m in stored}
    problems = []
    if sorted(by_id) != list(range(1, len(stored) + 1)):
        problems.append(f"ids are not 1..{len(stored)}")
    revs = [m["rev"] for m in stored]
    if len(set(revs)) != len(revs):
        problems.append("two messages hold the same rev")
    for m in stored:
        if m["deleted"] and (m["text"], m["reactions"], m["reply_to"]) != ("", {}, None):
            problems.append(f"tombstone #{m['id']} keeps content: {m}")
        for emoji, users in m["reactions"].items():
            if not users or users != sorted(users, key=str.lower):
                problems.append(f"#{m['id']} {emoji}: reactors {users} not sorted ignoring case")
        quote = m["reply_to"]
        if quote is not None:
            quoted = by_id.get(quote["id"])
            expected = quoted and {
                "id": quoted["id"],
                "user": quoted["user"],
                "text": "" if quoted["deleted"] else quoted["text"][:200],
                "deleted": quoted["deleted"],
            }
            if quote != expected:
                problems.append(f"#{m['id']} quotes {quote}, but #{quote['id']} is {quoted}")
    return problems
