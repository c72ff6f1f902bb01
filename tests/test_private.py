"""Private conversations (docs/protocol.md, "Private conversations"), as a client author sees them.

Direct messages (`dm`, `dm_opened`), talking to a stranger (`find_partner`, `leave_partner`,
`partner_found`, `partner_left`, the reconnect grace after a disconnect), `block`/`unblock`,
and the privacy rules: an outsider gets `forbidden` for everything about a private room (the
same answer as for a private name that does not exist), private rooms never show up in their
`rooms`, and private names never collide with public ones.
"""

import re
import time

import pytest

from tests.support.sockets import (
    JOIN_ACK_KEYS,
    NO_STAFF,
    assert_error,
    assert_no_events,
    call,
    drain,
    events,
    join,
    ok,
    room_list,
    say,
    user_id,
)

PAIR_ROOM = re.compile(r"pair:[0-9a-f]{32}")
ALIAS = re.compile(r"stranger-[0-9a-f]{4}")
MISSING_DM = "dm:99998-99999"
MISSING_PAIR = "pair:" + "0" * 32

# -- helpers ---------------------------------------------------------------------------------


def received(sio_client) -> dict[str, list]:
    """Drain a client once: the payloads it received, grouped by event name."""
    grouped: dict[str, list] = {}
    for name, payload in events(sio_client):
        grouped.setdefault(name, []).append(payload)
    return grouped


def find_partner(sio_client) -> dict:
    return ok(call(sio_client, "find_partner", {}))


def assert_waiting(sio_client) -> None:
    assert find_partner(sio_client) == {"ok": True, "status": "waiting"}


def alias(sio_client, room: str, username: str) -> str:
    """The alias `username` has in the pair room `room` (clients never see the username)."""
    app = sio_client.app
    with app.app_context():
        return app.extensions["chat"].strangers.alias_of(room, user_id(app, username))


def found(sio_client, room: str, partner: str, me: str) -> dict:
    """The `partner_found` payload `me` gets when paired with `partner` in `room`."""
    return {
        "room": room,
        "partner": alias(sio_client, room, partner),
        "you": alias(sio_client, room, me),
    }


def assert_paired(sio_client, partner: str) -> str:
    """`find_partner` answered `paired` with `partner` (by alias); returns the pair's room."""
    ack = find_partner(sio_client)
    assert set(ack) == {"ok", "status", "room", "partner", "you"}, ack
    assert ack["status"] == "paired", ack
    assert PAIR_ROOM.fullmatch(ack["room"]), ack
    assert ack["partner"] == alias(sio_client, ack["room"], partner), ack
    assert ALIAS.fullmatch(ack["you"]) and ack["you"] != ack["partner"], ack
    return ack["room"]


def pair_up(first, first_name: str, second, second_name: str) -> str:
    """`first` waits, `second` asks: both are told. Returns the pair's room; drains both."""
    assert_waiting(first)
    room = assert_paired(second, first_name)
    assert received(first).get("partner_found") == [found(first, room, second_name, first_name)]
    assert received(second).get("partner_found") == [found(second, room, first_name, second_name)]
    return room


def leave_partner(sio_client) -> None:
    assert ok(call(sio_client, "leave_partner", {})) == {"ok": True}


def block(sio_client, user: str) -> None:
    assert ok(call(sio_client, "block", {"user": user})) == {"ok": True}


def unblock(sio_client, user: str) -> None:
    assert ok(call(sio_client, "unblock", {"user": user})) == {"ok": True}


def open_dm(sio_client, user: str) -> dict:
    ack = ok(call(sio_client, "dm", {"user": user}))
    assert set(ack) == JOIN_ACK_KEYS, ack
    return ack


def dm_name(app, first: str, second: str) -> str:
    low, high = sorted((user_id(app, first), user_id(app, second)))
    return f"dm:{low}-{high}"


def post(sio_client, room: str, text: str) -> dict:
    return call(sio_client, "message", {"room": room, "text": text})


def wait_for(sio_client, name: str, timeout: float = 2.0) -> tuple[list, dict[str, list]]:
    """Poll until `name` arrives (sent from a background task); returns its payloads and
    everything else received meanwhile."""
    deadline = time.monotonic() + timeout
    everything: dict[str, list] = {}
    while True:
        for event, payloads in received(sio_client).items():
            everything.setdefault(event, []).extend(payloads)
        if everything.get(name) or time.monotonic() >= deadline:
            return everything.get(name, []), everything
        time.sleep(0.02)


def same_answer(ack, other_ack, names: tuple[str, str]) -> None:
    """Both are the same `forbidden` answer (room names aside): outsiders learn nothing."""
    first = assert_error(ack, "forbidden")
    second = assert_error(other_ack, "forbidden")
    assert first["message"].replace(names[0], "<room>") == second["message"].replace(
        names[1], "<room>"
    ), (ack, other_ack)


# -- direct messages -------------------------------------------------------------------------


def test_dm_opens_the_private_room_and_tells_every_connection_of_the_other_user(connect, app):
    alice = connect("alice")
    bob1 = connect("bob")
    bob2 = connect("bob")
    carol = connect("carol")
    name = dm_name(app, "alice", "bob")

    ack = open_dm(alice, "bob")
    assert ack == {
        "ok": True,
        "room": {"name": name, "topic": "", "kind": "dm", "with": "bob", **NO_STAFF, "rev": 0},
        "members": ["alice"],
        "messages": [],
        "has_more": False,
        "updates": [],
        "updates_truncated": False,
    }
    for bob in (bob1, bob2):
        assert events(bob, "dm_opened") == [{"room": name, "user": "alice"}]
    assert events(carol) == []


def test_dm_is_the_same_room_both_ways_and_every_time(connect, app):
    alice = connect("alice")
    bob = connect("bob")
    name = dm_name(app, "alice", "bob")

    assert open_dm(alice, "bob")["room"]["name"] == name
    assert open_dm(alice, "bob")["room"]["name"] == name  # again: same room, still fine
    back = open_dm(bob, "alice")
    assert back["room"] == {
        "name": name,
        "topic": "",
        "kind": "dm",
        "with": "alice",
        **NO_STAFF,
        "rev": 0,
    }
    assert back["members"] == ["alice", "bob"]
    assert events(alice, "dm_opened") == [{"room": name, "user": "bob"}]

    joined = join(bob, name)
    assert joined["room"] == {
        "name": name,
        "topic": "",
        "kind": "dm",
        "with": "alice",
        **NO_STAFF,
        "rev": 0,
    }
    assert joined["members"] == ["alice", "bob"]


def test_dm_rooms_are_listed_for_their_two_members_after_public_rooms(connect, app):
    alice = connect("alice")
    bob = connect("bob")
    zoe = connect("zoe")
    zoe.disconnect()  # offline: she finds the room in her list when she comes back
    carol = connect("carol")
    join(alice, "zzz")
    open_dm(alice, "zoe")
    open_dm(alice, "bob")
    hello = say(alice, "hi bob", room=dm_name(app, "alice", "bob"))

    listed = ok(call(alice, "rooms", {}))["rooms"]
    assert [room["name"] for room in listed[:2]] == ["general", "zzz"]
    assert [room["kind"] for room in listed[:2]] == ["public", "public"]
    assert listed[2:] == [
        {
            "name": dm_name(app, "alice", "bob"),
            "topic": "",
            "online": 1,
            "last_message_id": hello["id"],
            "kind": "dm",
            "with": "bob",
            **NO_STAFF,
        },
        {
            "name": dm_name(app, "alice", "zoe"),
            "topic": "",
            "online": 1,
            "last_message_id": None,
            "kind": "dm",
            "with": "zoe",
            **NO_STAFF,
        },
    ]

    bobs = room_list(bob)
    assert bobs[dm_name(app, "alice", "bob")]["kind"] == "dm"
    assert bobs[dm_name(app, "alice", "bob")]["with"] == "alice"
    assert dm_name(app, "alice", "zoe") not in bobs

    zoes = room_list(connect("zoe"))
    assert zoes[dm_name(app, "alice", "zoe")]["with"] == "alice"
    assert dm_name(app, "alice", "bob") not in zoes

    carols = room_list(carol)
    assert set(carols) == {"general", "zzz"}
    assert all(room["kind"] == "public" for room in carols.values())


def test_messages_history_catch_up_typing_and_presence_work_in_a_dm(connect, app):
    alice = connect("alice")
    bob = connect("bob")
    open_dm(alice, "bob")
    (opened,) = events(bob, "dm_opened")
    name = opened["room"]
    assert name == dm_name(app, "alice", "bob")

    joined = join(bob, name)
    assert joined["messages"] == []
    assert events(alice, "presence") == [{"room": name, "user": "bob", "status": "joined"}]

    first = say(alice, "one", room=name)
    second = say(alice, "two", room=name)
    assert (first["id"], second["id"]) == (1, 2)
    assert first["room"] == name
    assert first["user"] == "alice"
    assert events(bob, "message") == [first, second]
    assert events(alice, "message") == [first, second]  # sender included

    reply = say(bob, "three", room=name)
    assert events(alice, "message") == [reply]

    assert ok(call(bob, "typing", {"room": name, "typing": True})) == {"ok": True}
    assert events(alice, "typing") == [{"room": name, "user": "bob", "typing": True}]
    assert events(bob, "typing") == []

    history = ok(call(bob, "history", {"room": name}))
    assert history == {"ok": True, "messages": [first, second, reply], "has_more": False}
    older = ok(call(alice, "history", {"room": name, "before": 3, "limit": 1}))
    assert older == {"ok": True, "messages": [second], "has_more": True}

    bob.disconnect()
    later = say(alice, "while you were away", room=name)
    bob_again = connect("bob")
    caught_up = join(bob_again, name, since=reply["id"])
    assert caught_up["messages"] == [later]
    assert caught_up["has_more"] is False
    assert room_list(bob_again)[name]["last_message_id"] == later["id"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"user": "alice"}, "invalid"),
        ({"user": "nobody"}, "not_found"),
        ({"user": "x"}, "invalid"),
        ({"user": "no spaces"}, "invalid"),
        ({"user": 5}, "invalid"),
        ({}, "invalid"),
    ],
    ids=["yourself", "unknown", "too-short", "bad-chars", "number", "missing"],
)
def test_dm_errors(connect, payload, code):
    alice = connect("alice")
    assert_error(call(alice, "dm", payload), code)
    assert all(room["kind"] == "public" for room in room_list(alice).values())


# -- talk to a stranger ----------------------------------------------------------------------


def test_strangers_are_paired_and_chat_in_their_private_room(connect):
    alice = connect("alice")
    bob = connect("bob")
    room = pair_up(alice, "alice", bob, "bob")

    # Both asking connections are already in the room: no join needed.
    hello = say(alice, "hi stranger", room=room)
    assert hello["room"] == room
    assert events(bob, "message") == [hello]
    assert events(alice, "message") == [hello]
    assert ok(call(bob, "typing", {"room": room, "typing": True})) == {"ok": True}
    bob_alias, alice_alias = alias(bob, room, "bob"), alias(bob, room, "alice")
    assert events(alice, "typing") == [{"room": room, "user": bob_alias, "typing": True}]
    reply = say(bob, "hello", room=room)
    assert events(alice, "message") == [reply]

    joined = join(alice, room)
    assert joined["room"]["name"] == room
    assert joined["room"]["kind"] == "pair"
    assert joined["room"]["with"] == bob_alias
    assert joined["members"] == sorted([alice_alias, bob_alias])
    assert joined["messages"] == [hello, reply]
    assert [m["user"] for m in joined["messages"]] == [alice_alias, bob_alias]

    # Stranger rooms are listed nowhere, not even for their members.
    for sio_client in (alice, bob):
        assert all(name == "general" for name in room_list(sio_client))


def test_first_come_first_matched(connect):
    waiting = {name: connect(name) for name in ("wanda", "walt", "wes")}
    # Users who blocked each other are never matched: all three can wait at once.
    block(waiting["wanda"], "walt")
    block(waiting["wanda"], "wes")
    block(waiting["walt"], "wes")
    for sio_client in waiting.values():
        assert_waiting(sio_client)
    assert_waiting(waiting["wanda"])  # asking again changes nothing: she keeps her place

    for newcomer, longest_waiting in (("nina", "wanda"), ("ned", "walt"), ("nora", "wes")):
        sio_client = connect(newcomer)
        room = assert_paired(sio_client, longest_waiting)
        assert events(waiting[longest_waiting], "partner_found") == [
            found(sio_client, room, newcomer, longest_waiting)
        ]
        assert events(sio_client, "partner_found") == [
            found(sio_client, room, longest_waiting, newcomer)
        ]


def test_never_paired_with_yourself(connect):
    tab1 = connect("alice")
    tab2 = connect("alice")
    assert_waiting(tab1)
    assert_waiting(tab2)
    assert events(tab1, "partner_found") == []
    assert events(tab2, "partner_found") == []

    bob = connect("bob")
    room = assert_paired(bob, "alice")
    assert events(bob, "partner_found") == [found(bob, room, "alice", "bob")]
    told = events(tab1, "partner_found") + events(tab2, "partner_found")
    assert told == [found(bob, room, "bob", "alice")]


def test_leave_partner_ends_the_pair_for_every_connection_of_the_partner(connect):
    alice = connect("alice")
    bob = connect("bob")
    bob_tab = connect("bob")
    room = pair_up(alice, "alice", bob, "bob")
    before = say(alice, "bye soon", room=room)
    drain(alice, bob, bob_tab)

    leave_partner(alice)
    assert events(bob, "partner_left") == [{"room": room}]
    assert events(bob_tab, "partner_left") == [{"room": room}]
    assert events(alice, "partner_left") == []

    # The ended pair: no new messages, but its history stays readable by the two members.
    assert_error(post(alice, room, "still there?"), "forbidden")
    assert_error(post(bob, room, "still there?"), "forbidden")
    for sio_client in (alice, bob):
        history = ok(call(sio_client, "history", {"room": room}))
        assert history["messages"] == [before]
    assert events(bob, "message") == []

    leave_partner(alice)  # already alone: still fine
    leave_partner(bob)
    assert events(alice, "partner_left") == []
    assert events(bob, "partner_left") == []


def test_leave_partner_while_waiting_leaves_the_queue(connect):
    alice = connect("alice")
    assert_waiting(alice)
    leave_partner(alice)
    bob = connect("bob")
    assert_waiting(bob)
    assert events(alice, "partner_found") == []


def test_leave_partner_when_neither_waiting_nor_paired_is_fine(connect):
    alice = connect("alice")
    leave_partner(alice)
    leave_partner(alice)
    assert events(alice) == []


def test_next_leaves_the_partner_and_matches_the_longest_waiting(connect):
    alice = connect("alice")
    bob = connect("bob")
    old = pair_up(alice, "alice", bob, "bob")
    carol = connect("carol")
    assert_waiting(carol)

    new = assert_paired(alice, "carol")
    assert new != old
    assert received(bob) == {"partner_left": [{"room": old}]}
    assert events(carol, "partner_found") == [found(carol, new, "alice", "carol")]
    assert events(alice, "partner_found") == [found(alice, new, "carol", "alice")]

    assert_error(post(bob, old, "hello?"), "forbidden")
    assert_error(post(alice, old, "hello?"), "forbidden")
    say(alice, "hi carol", room=new)
    assert [m["text"] for m in events(carol, "message")] == ["hi carol"]


def test_next_with_nobody_else_waiting_waits_and_never_meets_the_same_partner_again(connect):
    alice = connect("alice")
    bob = connect("bob")
    old = pair_up(alice, "alice", bob, "bob")

    assert_waiting(alice)  # "Next", and nobody is waiting
    assert received(bob) == {"partner_left": [{"room": old}]}

    # Only alice is waiting, but the two just met: bob waits too (for 10 minutes).
    assert_waiting(bob)
    assert events(alice, "partner_found") == [] and events(bob, "partner_found") == []
    # A newcomer meets the one who waited longest.
    assert_paired(connect("carol"), "alice")


@pytest.mark.parametrize("ended_by", ["next", "leave_partner"])
def test_not_paired_again_with_the_partner_just_left_while_someone_else_waits(connect, ended_by):
    alice = connect("alice")
    bob = connect("bob")
    dave = connect("dave")
    erin = connect("erin")
    pair_up(alice, "alice", bob, "bob")

    if ended_by == "next":
        assert_waiting(alice)  # alice presses Next: bob is left
        stays, asks = alice, bob
        stays_name, asks_name = "alice", "bob"
    else:
        leave_partner(alice)  # alice leaves; bob asks again and waits
        assert_waiting(bob)
        stays, asks = bob, alice
        stays_name, asks_name = "bob", "alice"
    block(dave, stays_name)  # dave can wait next to the one who stays in the queue
    assert_waiting(dave)
    drain(alice, bob, dave)

    # The longest-waiting is the partner just left, but dave waits too: dave it is.
    room = assert_paired(asks, "dave")
    assert events(dave, "partner_found") == [found(dave, room, asks_name, "dave")]
    assert events(stays, "partner_found") == []
    # The one still waiting is matched with the next newcomer.
    assert_paired(erin, stays_name)


# -- disconnects and the grace period ---------------------------------------------------------


def test_a_waiting_user_who_disconnects_leaves_the_queue_at_once(connect):
    alice = connect("alice")
    assert_waiting(alice)
    alice.disconnect()
    bob = connect("bob")
    assert_waiting(bob)
    assert events(bob, "partner_found") == []


def test_a_paired_user_who_disconnects_has_left_after_the_grace(server_factory):
    server = server_factory(PAIR_GRACE_SECONDS=0.3)
    alice = server.connect("alice")
    bob = server.connect("bob")
    room = pair_up(alice, "alice", bob, "bob")

    alice.disconnect()
    gone_at = time.monotonic()
    assert received(bob).get("partner_left") is None  # not yet: alice may come back
    left, _ = wait_for(bob, "partner_left")
    assert left == [{"room": room}]
    assert time.monotonic() - gone_at >= 0.2
    assert_error(post(bob, room, "anyone?"), "forbidden")
    # bob is free again: a newcomer meets him.
    assert_waiting(bob)
    assert_paired(server.connect("carol"), "bob")


def test_reconnecting_and_joining_the_pair_room_within_the_grace_keeps_the_pair(server_factory):
    server = server_factory(PAIR_GRACE_SECONDS=0.5)
    alice = server.connect("alice")
    bob = server.connect("bob")
    room = pair_up(alice, "alice", bob, "bob")
    first = say(alice, "brb", room=room)

    alice.disconnect()
    alice = server.connect("alice")
    joined = join(alice, room, since=0)
    assert joined["room"]["kind"] == "pair"
    assert joined["room"]["with"] == alias(alice, room, "bob")
    assert joined["messages"] == [first]

    time.sleep(1.0)  # twice the grace
    everything = received(bob)
    assert "partner_left" not in everything, everything
    assert "partner_left" not in received(alice)
    back = say(alice, "back", room=room)
    assert events(bob, "message") == [back]
    reply = say(bob, "welcome back", room=room)
    assert events(alice, "message") == [back, reply]


# -- blocking --------------------------------------------------------------------------------


@pytest.mark.parametrize("blocker_waits", [True, False], ids=["blocker-waits", "blocked-waits"])
def test_blocked_users_are_never_matched(connect, blocker_waits):
    alice = connect("alice")
    bob = connect("bob")
    block(alice, "bob")
    first, second = (alice, bob) if blocker_waits else (bob, alice)
    first_name = "alice" if blocker_waits else "bob"

    assert_waiting(first)
    assert_waiting(second)
    assert events(first, "partner_found") == []
    assert events(second, "partner_found") == []
    # Both still wait: a newcomer meets the one who waited longest.
    assert_paired(connect("carol"), first_name)


def test_unblocking_lets_two_users_be_matched_again(connect):
    alice = connect("alice")
    bob = connect("bob")
    block(alice, "bob")
    unblock(alice, "bob")
    pair_up(bob, "bob", alice, "alice")


@pytest.mark.parametrize("blocker", ["alice", "bob"])
def test_dm_with_a_blocked_user_is_forbidden_both_ways(connect, app, blocker):
    users = {"alice": connect("alice"), "bob": connect("bob")}
    other = "bob" if blocker == "alice" else "alice"
    block(users[blocker], other)

    assert_error(call(users["alice"], "dm", {"user": "bob"}), "forbidden")
    assert_error(call(users["bob"], "dm", {"user": "alice"}), "forbidden")
    assert events(users["alice"], "dm_opened") == []
    assert events(users["bob"], "dm_opened") == []
    for sio_client in users.values():
        assert dm_name(app, "alice", "bob") not in room_list(sio_client)

    unblock(users[blocker], other)
    assert open_dm(users["alice"], "bob")["room"]["name"] == dm_name(app, "alice", "bob")


def test_posting_in_an_existing_dm_after_a_block_is_forbidden_both_ways(connect):
    alice = connect("alice")
    bob = connect("bob")
    name = open_dm(alice, "bob")["room"]["name"]
    join(bob, name)
    say(alice, "hi", room=name)
    drain(alice, bob)

    block(bob, "alice")
    assert_error(post(alice, name, "why?"), "forbidden")
    assert_error(post(bob, name, "bye"), "forbidden")
    assert events(alice, "message") == []
    assert events(bob, "message") == []

    unblock(bob, "alice")
    # the block took alice's connection out of the room: dm_opened tells her to join again
    assert events(alice, "dm_opened") == [{"room": name, "user": "bob"}]
    join(alice, name)
    drain(bob)
    again = say(alice, "friends again?", room=name)
    assert events(bob, "message") == [again]
    say(bob, "yes", room=name)


def test_blocking_your_stranger_ends_the_pair(connect):
    alice = connect("alice")
    bob = connect("bob")
    room = pair_up(alice, "alice", bob, "bob")

    block(alice, "bob")
    assert events(bob, "partner_left") == [{"room": room}]
    assert_error(post(alice, room, "bye"), "forbidden")
    assert_error(post(bob, room, "wait"), "forbidden")
    # ...and they are not matched again.
    assert_waiting(bob)
    assert_waiting(alice)


@pytest.mark.parametrize("event", ["block", "unblock"])
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"user": "alice"}, "invalid"),
        ({"user": "nobody"}, "not_found"),
        ({"user": "x"}, "invalid"),
        ({"user": 5}, "invalid"),
        ({}, "invalid"),
    ],
    ids=["yourself", "unknown", "too-short", "number", "missing"],
)
def test_block_errors(connect, event, payload, code):
    alice = connect("alice")
    assert_error(call(alice, event, payload), code)


# -- privacy ---------------------------------------------------------------------------------


def private_room(kind: str, connect, app) -> tuple[str, str, object, object]:
    """A DM or stranger room of alice and bob with one message; returns (room, missing name of
    the same kind, alice, bob), both joined."""
    alice = connect("alice")
    bob = connect("bob")
    if kind == "dm":
        room = open_dm(alice, "bob")["room"]["name"]
        join(bob, room)
        missing = MISSING_DM
    else:
        room = pair_up(alice, "alice", bob, "bob")
        missing = MISSING_PAIR
    say(alice, "secret", room=room)
    drain(alice, bob)
    return room, missing, alice, bob


@pytest.mark.parametrize("kind", ["dm", "pair"])
def test_an_outsider_gets_forbidden_for_everything_about_a_private_room(connect, app, kind):
    room, missing, alice, bob = private_room(kind, connect, app)
    carol = connect("carol")
    attempts = [
        ("join", {"room": room}),
        ("join", {"room": room, "since": 0}),
        ("history", {"room": room}),
        ("history", {"room": room, "before": 2, "limit": 1}),
        ("message", {"room": room, "text": "let me in"}),
        ("typing", {"room": room, "typing": True}),
    ]
    for event, payload in attempts:
        ack = call(carol, event, payload)
        nonexistent = call(carol, event, {**payload, "room": missing})
        same_answer(ack, nonexistent, (room, missing))

    # Nothing leaked to carol, nothing reached the members, nothing was stored.
    assert_no_events(carol, alice, bob)
    assert room not in room_list(carol)
    assert [m["text"] for m in ok(call(alice, "history", {"room": room}))["messages"]] == ["secret"]
    # Later traffic in the room does not reach her either.
    say(bob, "still secret", room=room)
    ok(call(alice, "typing", {"room": room, "typing": True}))
    assert events(carol) == []


@pytest.mark.parametrize("kind", ["dm", "pair"])
def test_an_ended_or_blocked_private_room_stays_closed_to_outsiders(connect, app, kind):
    room, missing, alice, _ = private_room(kind, connect, app)
    if kind == "dm":
        block(alice, "bob")
    else:
        leave_partner(alice)
    carol = connect("carol")
    for event, payload in [("join", {"room": room}), ("history", {"room": room})]:
        same_answer(
            call(carol, event, payload),
            call(carol, event, {**payload, "room": missing}),
            (room, missing),
        )


def test_private_rooms_never_appear_in_a_third_users_rooms(connect, app):
    alice = connect("alice")
    bob = connect("bob")
    carol = connect("carol")
    dave = connect("dave")
    open_dm(alice, "bob")
    room = pair_up(carol, "carol", dave, "dave")
    say(carol, "psst", room=room)

    # carol and dave are outsiders to the DM; the stranger room is listed for nobody.
    for sio_client in (carol, dave):
        assert set(room_list(sio_client)) == {"general"}
    assert set(room_list(alice)) == {"general", dm_name(app, "alice", "bob")}
    assert set(room_list(bob)) == {"general", dm_name(app, "alice", "bob")}


def test_an_outsider_cannot_claim_a_private_name_before_its_owners(connect, app):
    alice = connect("alice")
    bob = connect("bob")
    carol = connect("carol")
    name = dm_name(app, "alice", "bob")  # no such room yet

    for room in (name, MISSING_PAIR, "dm:1-2", "pair:abc"):
        assert_error(call(carol, "join", {"room": room}), "forbidden")
        assert_error(call(carol, "history", {"room": room}), "forbidden")
        assert_error(call(carol, "message", {"room": room, "text": "mine"}), "forbidden")
        # ...again: the first attempt created nothing she could now enter.
        assert_error(call(carol, "join", {"room": room}), "forbidden")
    for sio_client in (alice, bob, carol):
        assert set(room_list(sio_client)) == {"general"}

    # The owners get their own, empty room under that name; carol still cannot get in.
    ack = open_dm(alice, "bob")
    assert ack["room"] == {
        "name": name,
        "topic": "",
        "kind": "dm",
        "with": "bob",
        **NO_STAFF,
        "rev": 0,
    }
    assert ack["members"] == ["alice"]
    assert ack["messages"] == []
    assert_error(call(carol, "join", {"room": name}), "forbidden")


@pytest.mark.parametrize(
    "room",
    [
        "a:b",
        "general:x",
        "team:42",
        ":",
        "dm:",
        "pair:",
        "DM:1-2",
        "dm:ABC",
        "Pair:" + "0" * 32,
        "chat:dm:1-2",
        "dm:" + "1" * 65,
    ],
)
def test_public_names_with_a_colon_are_invalid(connect, room):
    alice = connect("alice")
    for event, payload in [
        ("join", {"room": room}),
        ("history", {"room": room}),
        ("message", {"room": room, "text": "hi"}),
        ("typing", {"room": room, "typing": True}),
    ]:
        assert_error(call(alice, event, payload), "invalid")
    assert set(room_list(alice)) == {"general"}


def test_unknown_private_names_are_forbidden_where_unknown_public_ones_are_not_found(connect):
    alice = connect("alice")
    assert_error(call(alice, "history", {"room": "nowhere"}), "not_found")
    assert_error(call(alice, "history", {"room": MISSING_DM}), "forbidden")
    assert_error(call(alice, "history", {"room": MISSING_PAIR}), "forbidden")
    assert_error(call(alice, "typing", {"room": MISSING_DM, "typing": True}), "forbidden")
    assert_error(call(alice, "message", {"room": MISSING_PAIR, "text": "hi"}), "forbidden")


def test_joining_a_pair_room_says_whether_the_chat_is_still_on(connect):
    alice = connect("alice")
    bob = connect("bob")
    room = pair_up(alice, "alice", bob, "bob")
    assert ok(call(bob, "join", {"room": room}))["room"] == {
        "name": room,
        "topic": "",
        "kind": "pair",
        "with": alias(bob, room, "alice"),
        "active": True,
        **NO_STAFF,
        "rev": 0,
    }
    leave_partner(alice)
    # bob's page was away when partner_left went out: its rejoin tells it the chat ended
    assert ok(call(bob, "join", {"room": room, "since": 0}))["room"]["active"] is False
