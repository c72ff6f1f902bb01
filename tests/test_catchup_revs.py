"""Catch-up of changes with `join` `since` + `rev` (docs/protocol.md "Room revisions"), one
server process: a client that was away while messages were sent, edited, deleted, reacted to
and replied to rejoins and then holds exactly what a client that never left holds; every
change is in the ack or in a later event, never both; `updates` stops at 500."""

import random

import pytest

from app.domain.models import Identity, utc_now
from tests.support.sockets import call, events, join, ok, say, user_id
from tests.test_events_edits import delete, edit, react

# whose message only the test itself changes (the storm leaves it alone)
PINNER = "zoe"
LIMITLESS = {
    "EVENT_BURST": 10**6,
    "EVENT_RATE": 1e6,
    "MESSAGE_BURST": 10**6,
    "MESSAGE_RATE": 1e6,
    "REACT_BURST": 10**6,
    "REACT_RATE": 1e6,
    "JOIN_BURST": 10**6,
    "JOIN_RATE": 1e6,
    "HISTORY_BURST": 10**6,
    "HISTORY_RATE": 1e6,
}


class Holder:
    """What a client keeps of one room, as the protocol tells clients to keep it: per message
    the state with the highest rev, and the highest rev seen."""

    def __init__(self):
        self.messages: dict[int, dict] = {}
        self.rev = 0

    def take(self, message: dict) -> None:
        held = self.messages.get(message["id"])
        if held is None or message["rev"] > held["rev"]:
            self.messages[message["id"]] = message
        self.rev = max(self.rev, message["rev"])

    def joined(self, ack: dict) -> None:
        for message in ack["updates"] + ack["messages"]:
            self.take(message)
        self.rev = max(self.rev, ack["room"]["rev"])

    def received(self, sio_client) -> list[int]:
        """Apply the events received since the last look; their revs, in arrival order."""
        revs = []
        for name, payload in events(sio_client):
            if name in ("message", "message_updated"):
                self.take(payload)
                revs.append(payload["rev"])
        return revs

    @property
    def last_id(self) -> int:
        return max(self.messages, default=0)


def storm(people: dict, rng: random.Random, steps: int) -> None:
    """Random posts, replies, edits, deletes and reactions by these users in general."""
    names = sorted(people)
    for _ in range(steps):
        who = people[rng.choice(names)]
        history = ok(call(who, "history", {"room": "general", "limit": 100}))["messages"]
        history = [m for m in history if m["user"] != PINNER]  # changed by the test only
        target = rng.choice(history) if history else None
        action = rng.choice(["say", "reply", "edit", "delete", "react", "unreact"])
        if target is None or action == "say":
            say(who, f"message {rng.random():.6f}")
        elif action == "reply":
            call(who, "message", {"room": "general", "text": "re", "reply_to": target["id"]})
        elif action == "edit":
            author = people.get(target["user"])
            if author is not None:
                call(
                    author,
                    "edit",
                    {"room": "general", "id": target["id"], "text": f"e{rng.random()}"},
                )
        elif action == "delete":
            author = people.get(target["user"])
            if author is not None:
                delete(author, target["id"])
        else:
            react(who, target["id"], rng.choice("👍🎉😀"), on=action == "react")


@pytest.fixture
def busy(server_factory):
    return server_factory(**LIMITLESS)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_client_back_from_away_holds_what_a_client_that_stayed_holds(busy, seed):
    rng = random.Random(seed)
    people = {name: busy.connect(name) for name in ("alice", "bob", "carol")}
    stayer, stayed = busy.connect("dave"), Holder()
    stayed.joined(join(stayer))
    for sio_client in people.values():
        join(sio_client)
    pinner = busy.connect(PINNER)
    join(pinner)
    pinned = [say(pinner, "pinned"), say(pinner, "pinned too")]
    storm(people, rng, 40)

    away_client, away = busy.connect("erin"), Holder()
    away.joined(join(away_client, since=0))
    stayed.received(stayer)
    away.received(away_client)
    assert away.messages == stayed.messages
    away_client.disconnect()

    # the first change erin misses, and the last: each the latest change of its message
    assert ok(edit(pinner, pinned[0]["id"], "pinned, edited"))["message"]["rev"] == away.rev + 1
    storm(people, rng, 60)  # edits, deletes, reactions and new messages erin misses
    ok(react(pinner, pinned[1]["id"], "📌"))

    back = busy.connect("erin")
    ack = join(back, since=away.last_id, rev=away.rev)
    assert ack["updates_truncated"] is False
    assert [m["rev"] for m in ack["updates"]] == sorted(m["rev"] for m in ack["updates"])
    assert all(m["id"] <= away.last_id and m["rev"] > away.rev for m in ack["updates"])
    away.joined(ack)
    stayed.received(stayer)
    assert away.messages == stayed.messages
    assert away.rev == stayed.rev == ack["room"]["rev"]

    # later changes come as events, none of them already in the ack, in rev order
    storm(people, rng, 30)
    later = away.received(back)
    stayed.received(stayer)
    assert later == sorted(later) and all(rev > ack["room"]["rev"] for rev in later)
    assert len(later) == len(set(later))
    assert away.messages == stayed.messages
    # and a fresh page of the room agrees
    fresh = join(busy.connect("frank"), since=0)
    assert {m["id"]: m for m in fresh["messages"]} == stayed.messages


def test_the_revs_of_a_rooms_changes_are_gapless(busy):
    alice, bob = busy.connect("alice"), busy.connect("bob")
    join(alice)
    watcher = Holder()
    watcher.joined(join(bob))
    first = say(alice, "one")
    say(bob, "two", reply_to=first["id"])
    edit(alice, first["id"], "one!")  # two revs: the message, then the reply
    react(bob, first["id"], "👍")
    react(bob, first["id"], "👍")  # a no-op takes none
    delete(alice, first["id"])  # two revs again
    revs = watcher.received(bob)
    assert revs == list(range(1, len(revs) + 1)) == list(range(1, 8))


def test_updates_without_changes_and_rev_without_since(busy):
    alice = busy.connect("alice")
    first = join(alice)
    said = say(alice, "x")
    ack = join(alice, since=said["id"], rev=said["rev"])
    assert ack["updates"] == [] and ack["messages"] == []
    assert ack["room"]["rev"] == said["rev"] > first["room"]["rev"]
    edited = ok(edit(alice, said["id"], "y"))["message"]
    # rev without since is ignored: the latest page, current states
    ack = join(alice, rev=0)
    assert ack["updates"] == [] and ack["messages"] == [edited]
    ack = join(alice, since=said["id"], rev=said["rev"])
    assert ack["updates"] == [edited] and ack["room"]["rev"] == edited["rev"]
    # a message after `since` comes in `messages` in its current state, not in `updates`
    ack = join(alice, since=0, rev=0)
    assert ack["messages"] == [edited] and ack["updates"] == []


def seed(app, count: int) -> None:
    """`count` messages from alice in general, straight through the repository."""
    who = Identity(user_id(app, "alice"), "alice")
    repository = app.extensions["chat_repository"]
    with app.app_context():
        room = repository.get_room("general")
        for number in range(count):
            repository.add_message(room, who, f"seed {number}", None, utc_now())


def test_updates_stop_at_500_and_say_so(busy):
    alice = busy.connect("alice")
    seed(busy.app, 502)
    ack = join(alice, since=502, rev=0)
    assert ack["messages"] == []
    assert [m["id"] for m in ack["updates"]] == list(range(1, 501))
    assert [m["rev"] for m in ack["updates"]] == list(range(1, 501))
    assert ack["updates_truncated"] is True
    ack = join(alice, since=502, rev=2)
    assert [m["id"] for m in ack["updates"]] == list(range(3, 503))
    assert ack["updates_truncated"] is False
    assert ack["room"]["rev"] == 502


@pytest.mark.parametrize("rev", [-1, "3", 2**53 + 1, 1.5, True])
def test_a_bad_rev_is_invalid(busy, rev):
    alice = busy.connect("alice")
    ack = call(alice, "join", {"room": "general", "since": 0, "rev": rev})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid", ack
