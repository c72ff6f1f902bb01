"""Room revisions across two processes on PostgreSQL: writers on both post, reply, edit,
delete and react at once; readers that stay, and readers that drop and rejoin on the other
process with `since` + `rev`, all end with exactly the room's stored state, having been sent
each revision at most once, in `rev` order, never an update before its message."""

import random
import threading
import time
from collections import Counter

import pytest

from tests.support.realclients import connect_as
from tests.support.replica import ReplicaClient, close_all, quote_problems, read_room
from tests.support.services import wait_until
from tests.support.storm import FAST_SERVER

pytestmark = pytest.mark.timeout(120)

ROOM = "pg-revisions"
WRITERS_PER_PROCESS = 3
STAYERS_PER_PROCESS = 2
LEAVERS_PER_PROCESS = 2
OPERATIONS_PER_WRITER = 60
EMOJI = ("👍", "🎉", "❤️", "+1", "😂")
SEED = 20261202

REVISIONS_SERVER = {
    **FAST_SERVER,
    "REACT_RATE": "100000",
    "REACT_BURST": "100000",
    "HISTORY_RATE": "100000",
    "HISTORY_BURST": "100000",
    "JOIN_RATE": "100000",
    "JOIN_BURST": "100000",
}


class Writer:
    """A user on one process who posts, replies, edits and deletes their own messages and
    reacts (on and off) to anyone's, checking each ack; a second connection of theirs, on the
    other process, checks that what was acked is already stored."""

    def __init__(self, servers, n: int, name: str, rng: random.Random):
        self.name, self.rng = name, rng
        self.client = ReplicaClient(name, servers[n].token(name), [ROOM]).connect(servers[n].url)
        self.view = self.client.views[ROOM]
        self.checker = connect_as(servers[1 - n], name, wait_timeout=10)
        self.own: list[int] = []  # ids of this writer's messages that are not deleted
        self.reacted: set[tuple[int, str]] = set()  # (id, emoji) this writer has on
        self.acked: list[tuple[str, dict]] = []  # (operation, the Message acked)
        self.counts: dict[str, int] = {}
        self.problems: list[str] = []

    def run(self) -> None:
        for n in range(OPERATIONS_PER_WRITER):
            try:
                self.step(n)
            except Exception as exc:  # a timeout: reported, the other writers go on
                self.problems.append(f"{self.name} step {n}: {exc!r}")

    def step(self, n: int) -> None:
        live = [i for i, m in self.view.state().items() if not m["deleted"]]
        roll = self.rng.random()
        if roll < 0.15 and live:
            target = self.rng.choice(live)
            self.post(n, reply_to=target)
        elif roll < 0.3 and self.own:
            text = f"{self.name} edited {n}" + " ~~x~~" * self.rng.randrange(0, 60)
            self.change("edit", {"id": self.rng.choice(self.own), "text": text}, text=text)
        elif roll < 0.38 and self.own:
            target = self.own.pop(self.rng.randrange(len(self.own)))
            self.change("delete", {"id": target})
        elif roll < 0.55 and live:
            target = self.rng.choice(live)
            mine = {e for i, e in self.reacted if i == target}
            emoji = self.rng.choice([e for e in EMOJI if e not in mine] or EMOJI)
            self.change("react", {"id": target, "emoji": emoji, "on": True})
        elif roll < 0.65 and self.reacted:
            target, emoji = self.rng.choice(sorted(self.reacted))
            self.change("unreact", {"id": target, "emoji": emoji, "on": False})
        else:
            self.post(n)

    def post(self, n: int, reply_to: int | None = None) -> None:
        text = f"**{self.name}** says {n}" + (" and more" * self.rng.randrange(0, 40))
        payload = {"room": ROOM, "text": text, "client_id": f"{self.name}-{n}"}
        if reply_to:
            payload["reply_to"] = reply_to
        ack = self.client.call("message", payload)
        operation = "reply" if reply_to else "post"
        if not self.accepted(operation, payload, ack):
            return
        message = ack["message"]
        quoted = message["reply_to"] and message["reply_to"]["id"]
        if (message["user"], message["text"], quoted) != (self.name, text, reply_to):
            self.problems.append(f"{self.name}: {payload} acked as {message}")
        self.own.append(message["id"])

    def change(self, operation: str, fields: dict, text: str | None = None) -> None:
        payload = {"room": ROOM, **fields}
        event = "react" if operation == "unreact" else operation
        ack = self.client.call(event, payload)
        accepted = self.accepted(operation, payload, ack)
        if operation == "react" and accepted:
            self.reacted.add((fields["id"], fields["emoji"]))
        elif operation == "unreact":  # gone either way: removed, or its message deleted
            self.reacted.discard((fields["id"], fields["emoji"]))
        elif operation == "delete":  # a tombstone keeps no reactions
            self.reacted = {(i, e) for i, e in self.reacted if i != fields["id"]}
        if not accepted:
            return
        message = ack["message"]
        expected = {
            "edit": lambda: message["text"] == text and message["edited_at"] is not None,
            "delete": lambda: message["deleted"] and message["text"] == "",
            "react": lambda: self.name in message["reactions"].get(fields["emoji"], []),
            "unreact": lambda: self.name not in message["reactions"].get(fields["emoji"], []),
        }[operation]
        if message["id"] != fields["id"] or not expected():
            self.problems.append(f"{self.name}: {operation} {payload} acked as {message}")

    def accepted(self, operation: str, payload: dict, ack: dict) -> bool:
        """Whether `ack` is ok (recorded, and checked on the other process every third time);
        the only refusal a writer can meet is `not_found`: someone deleted the target."""
        if not ack.get("ok"):
            target_may_be_gone = operation in ("reply", "react", "unreact")
            if not (target_may_be_gone and ack.get("error", {}).get("code") == "not_found"):
                self.problems.append(f"{self.name}: {operation} {payload} answered {ack}")
            return False
        self.counts[operation] = self.counts.get(operation, 0) + 1
        message = ack["message"]
        self.acked.append((operation, message))
        if len(self.acked) % 3 == 0:
            self.check_stored(message)
        return True

    def check_stored(self, message: dict) -> None:
        """Acknowledged means stored: the other process reads it back at once."""
        page = self.checker.call(
            "history", {"room": ROOM, "before": message["id"] + 1, "limit": 1}, timeout=10
        )
        found = page.get("messages", [None])[-1] if page.get("ok") else page
        if not found or found.get("id") != message["id"] or found["rev"] < message["rev"]:
            self.problems.append(f"acked {message} but the other process reads {found}")
        elif found["rev"] == message["rev"] and found != message:
            self.problems.append(f"acked {message} but rev {found['rev']} is stored as {found}")


def roam(leaver: ReplicaClient, urls: list[str], rng: random.Random, done: threading.Event):
    """Drop the connection (abruptly or cleanly) and come back on the other process with
    since + rev, again and again while the writers go on."""
    while not done.is_set():
        time.sleep(rng.uniform(0.05, 0.3))
        leaver.drop(abrupt=rng.random() < 0.6)
        time.sleep(rng.uniform(0.1, 0.5))  # changes pile up meanwhile
        leaver.connect(urls[1 - urls.index(leaver.url)])


def test_readers_on_both_processes_end_with_the_stored_state_of_every_message(start_servers):
    servers = start_servers(2, **REVISIONS_SERVER)
    urls = [server.url for server in servers]
    rng = random.Random(SEED)

    def client(server, name):
        return ReplicaClient(name, server.token(name), [ROOM]).connect(server.url)

    stayers = [
        client(server, f"rv-stay{n}{m}")
        for n, server in enumerate(servers)
        for m in range(STAYERS_PER_PROCESS)
    ]
    leavers = [
        client(server, f"rv-roam{n}{m}")
        for n, server in enumerate(servers)
        for m in range(LEAVERS_PER_PROCESS)
    ]
    writers = [
        # mixed case: reactors are sorted ignoring case
        Writer(servers, n, f"rv-{'Ww'[m % 2]}riter{n}{m}", random.Random(rng.random()))
        for n in range(len(servers))
        for m in range(WRITERS_PER_PROCESS)
    ]

    done = threading.Event()
    roamers = [
        threading.Thread(target=roam, args=(c, urls, random.Random(rng.random()), done))
        for c in leavers
    ]
    threads = [threading.Thread(target=w.run) for w in writers]
    began = time.monotonic()
    for thread in roamers + threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    writing_took = time.monotonic() - began
    done.set()
    for thread in roamers:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in roamers + threads), "a writer or a roamer hung"

    auditor = connect_as(servers[1], "rv-auditor", wait_timeout=10)
    stored = read_room(lambda event, payload: auditor.call(event, payload, timeout=10), ROOM)
    auditor.disconnect()
    room_rev = max(m["rev"] for m in stored)
    everyone = stayers + leavers + [w.client for w in writers]
    wait_until(lambda: all(c.views[ROOM].rev >= room_rev for c in everyone), timeout=15)

    counts = {op: sum(w.counts.get(op, 0) for w in writers) for op in
              ("post", "reply", "edit", "delete", "react", "unreact")}  # fmt: skip
    views = [c.views[ROOM] for c in everyone]
    differing = [d for view in views for d in view.differences(stored)]
    # every ack is of a real change (no writer repeats one), and each change has its own rev
    revs = Counter(m["rev"] for w in writers for _, m in w.acked)
    shared = sorted(
        [(op, m) for w in writers for op, m in w.acked if revs[m["rev"]] > 1],
        key=lambda pair: pair[1]["rev"],
    )
    print(
        f"\nrevisions on two processes: stored={len(stored)} room_rev={room_rev} {counts} "
        f"writing_took={writing_took:.1f}s rejoins={sum(v.rejoins for v in views)} "
        f"caught_updates={sum(v.caught_updates for v in views)} "
        f"caught_messages={sum(v.caught_messages for v in views)} "
        f"skipped_revs={sum(v.skipped_revs for v in views)} states_differing={len(differing)} "
        f"problems={sum(len(c.problems()) for c in everyone)} acks_sharing_a_rev={len(shared)}"
    )
    close_all(everyone + [w.checker for w in writers])

    problems = [p for w in writers for p in w.problems]
    assert not problems, "\n".join(problems[:40])
    assert not shared, "acks of different changes with one rev:\n" + "\n".join(map(str, shared))
    problems = [p for c in everyone for p in c.problems()]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    assert quote_problems(stored) == []
    by_id = {m["id"]: m for m in stored}
    for c in everyone:
        assert c.views[ROOM].rev == room_rev, f"{c.name} holds rev {c.views[ROOM].rev}"
        assert c.views[ROOM].differences(stored) == [], c.name
    for w in writers:  # every ack's state was stored: the final one is the same or newer
        for operation, message in w.acked:
            final = by_id[message["id"]]
            assert final["rev"] >= message["rev"], (operation, message, final)
            assert final["rev"] > message["rev"] or final == message, (operation, message, final)
            assert (final["user"], final["ts"], final["client_id"]) == (
                message["user"], message["ts"], message["client_id"]
            )  # fmt: skip
    # the storm really did every kind of change, and the roamers really missed some
    assert all(counts[op] >= 5 for op in counts), counts
    assert any(m["deleted"] for m in stored)
    assert any(m["edited_at"] and not m["deleted"] for m in stored)
    assert any(m["reactions"] for m in stored)
    assert any(m["reply_to"] and m["reply_to"]["deleted"] for m in stored)
    assert all(c.views[ROOM].rejoins >= 2 for c in leavers), [
        c.views[ROOM].rejoins for c in leavers
    ]
    assert sum(c.views[ROOM].caught_updates for c in leavers) > 0
    assert sum(c.views[ROOM].caught_messages for c in leavers) > 0
