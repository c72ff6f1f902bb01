"""Socket.IO protocol v1 (docs/protocol.md): `message`, `history`, `join` catch-up, ids.

The helpers come from tests/support/sockets.py.
"""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.sockets import (
    MESSAGE_KEYS,
    TS_RE,
    assert_error,
    assert_message,
    assert_no_events,
    assert_still_works,
    call,
    drain,
    events,
    join,
    ok,
    owned,
    room_list,
    say,
    user_id,
)


def parse_ts(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def ids(messages) -> list[int]:
    return [message["id"] for message in messages]


def seed(app, room: str, username: str, count: int, *, first_text: int = 1) -> None:
    """Store `count` messages from `username` in `room` straight through the repository."""
    from app.domain.models import Identity, utc_now

    who = Identity(user_id(app, username), username)
    repository = app.extensions["chat_repository"]
    with app.app_context():
        target = repository.get_room(room) or repository.create_room(room)
        for number in range(first_text, first_text + count):
            repository.add_message(target, who, f"seed {number}", None, utc_now())


@pytest.fixture
def busy(server_factory):  # noqa: F811
    """An app with a generous message burst and 120 messages from alice in general."""
    server = server_factory(MESSAGE_BURST=1000, MESSAGE_RATE=1000.0, EVENT_BURST=1000)
    alice = server.connect("alice")
    join(alice)
    sent = [say(alice, f"message {number}") for number in range(1, 121)]
    assert ids(sent) == list(range(1, 121))
    drain(alice)
    server.alice = alice
    server.sent = sent
    return server


# -- message ---------------------------------------------------------------------------------


def test_message_ack_and_broadcast(connect):
    tab1 = connect("alice")
    tab2 = connect("alice")
    tab3 = connect("alice")  # online, but has not joined general
    bob = connect("bob")
    carol = connect("carol")
    for sio_client in (tab1, tab2, bob):
        join(sio_client)
    join(carol, "other")
    join(tab3, "other")
    drain(tab1, tab2, tab3, bob, carol)

    before = datetime.now(UTC)
    ack = call(tab1, "message", {"room": "general", "text": "hello"})
    after = datetime.now(UTC)
    assert set(ack) == {"ok", "message"}
    assert ack["ok"] is True
    message = ack["message"]
    assert_message(message, id=1, room="general", user="alice", text="hello")
    assert before - timedelta(seconds=1) <= parse_ts(message["ts"])
    assert parse_ts(message["ts"]) <= after + timedelta(seconds=1)

    # Everyone in the room, the sending connection and alice's other tab included.
    assert events(tab1) == [("message", message)]
    assert events(tab2) == [("message", message)]
    assert events(bob) == [("message", message)]
    # Not connections outside the room, even alice's own.
    assert_no_events(tab3, carol)


def test_message_is_stored_when_acked(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    message = say(alice, "durable")
    history = ok(call(bob, "history", {"room": "general"}))
    assert history == {"ok": True, "messages": [message], "has_more": False}
    assert room_list(bob)["general"]["last_message_id"] == 1
    assert join(bob)["messages"] == [message]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("  hello  ", "hello"),
        ("\n\thello world\r\n ", "hello world"),
        ("a  b\nc", "a  b\nc"),
        ("x", "x"),
        ("\u00e9t\u00e9 \U0001f600", "\u00e9t\u00e9 \U0001f600"),
        ("<b>not html</b> & \"quotes\" 'single'", "<b>not html</b> & \"quotes\" 'single'"),
    ],
)
def test_message_text_is_trimmed(connect, sent, stored):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    drain(bob)
    message = say(alice, sent)
    assert message["text"] == stored
    assert events(bob, "message") == [message]
    assert ok(call(bob, "history", {"room": "general"}))["messages"] == [message]


def test_message_user_keeps_registered_spelling(connect):
    alice = connect("Alice")
    join(alice)
    message = say(alice, "hi")
    assert message["user"] == "Alice"
    assert join(alice)["members"] == ["Alice"]


def test_client_id_is_echoed(connect):
    alice = connect("alice")
    join(alice)
    client_id = "3f6c0c1e-8a8e-4c55-9d1b-0d3b7a6c2f10"
    message = say(alice, "with id", client_id=client_id)
    assert_message(message, id=1, room="general", user="alice", text="with id", client_id=client_id)
    assert events(alice, "message") == [message]
    assert say(alice, "without id")["client_id"] is None
    assert say(alice, "null id", client_id=None)["client_id"] is None


def test_ids_count_per_room(connect):
    alice = connect("alice")
    bob = connect("bob")
    for sio_client in (alice, bob):
        join(sio_client)
        join(sio_client, "other")
    drain(alice, bob)
    sent = [
        say(alice, "g1"),
        say(bob, "o1", room="other"),
        say(bob, "g2"),
        say(alice, "o2", room="other"),
        say(alice, "g3"),
    ]
    assert [(m["room"], m["id"]) for m in sent] == [
        ("general", 1),
        ("other", 1),
        ("general", 2),
        ("other", 2),
        ("general", 3),
    ]
    received = events(bob, "message")
    assert received == sent
    assert [m["id"] for m in received if m["room"] == "general"] == [1, 2, 3]
    assert [m["id"] for m in received if m["room"] == "other"] == [1, 2]
    rooms = room_list(alice)
    assert rooms["general"]["last_message_id"] == 3
    assert rooms["other"]["last_message_id"] == 2
    stamps = [parse_ts(m["ts"]) for m in sent]
    assert stamps == sorted(stamps)


def test_message_without_join_is_not_in_room(connect):
    alice = connect("alice")
    other_tab = connect("alice")
    bob = connect("bob")
    join(bob)
    join(other_tab)  # another connection of alice joining does not count for this one
    drain(bob, other_tab)
    assert_error(call(alice, "message", {"room": "general", "text": "hi"}), "not_in_room")
    assert_error(call(alice, "message", {"room": "nowhere", "text": "hi"}), "not_in_room")
    assert_no_events(bob, other_tab)
    assert ok(call(bob, "history", {"room": "general"}))["messages"] == []
    assert "nowhere" not in room_list(alice)
    assert_still_works(alice)


def test_message_after_leave_is_not_in_room(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    ok(call(alice, "leave", {"room": "general"}))
    drain(bob)
    assert_error(call(alice, "message", {"room": "general", "text": "hi"}), "not_in_room")
    assert events(bob) == []
    join(alice)
    assert say(alice, "back")["id"] == 1


# -- too_large -------------------------------------------------------------------------------


def test_text_of_4000_characters_is_accepted(connect):
    alice = connect("alice")
    join(alice)
    assert say(alice, "x" * 4000)["text"] == "x" * 4000
    assert say(alice, "\u00e9" * 4000)["text"] == "\u00e9" * 4000


def test_trimming_counts_for_the_limit(connect):
    alice = connect("alice")
    join(alice)
    padded = "  \n\t" + "y" * 4000 + " \r\n  "
    message = say(alice, padded)
    assert message["text"] == "y" * 4000
    assert len(message["text"]) == 4000


@pytest.mark.parametrize(
    "text",
    ["x" * 4001, "  " + "x" * 4001 + "  ", "x" * 2000 + " " + "x" * 2000, "x" * 10000],
    ids=["4001", "4001-padded", "4001-inner-space", "10000"],
)
def test_text_over_4000_characters_is_too_large(connect, text):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    drain(alice, bob)
    assert_error(call(alice, "message", {"room": "general", "text": text}), "too_large")
    assert_no_events(alice, bob)
    assert ok(call(bob, "history", {"room": "general"}))["messages"] == []
    assert_still_works(alice)
    assert say(alice, "short")["id"] == 1


# -- rate_limited ----------------------------------------------------------------------------


def test_message_rate_limited_per_user(server_factory):  # noqa: F811
    server = server_factory(MESSAGE_BURST=3, MESSAGE_RATE=0.001)
    tab1 = server.connect("alice")
    tab2 = server.connect("alice")
    bob = server.connect("bob")
    for sio_client in (tab1, tab2, bob):
        join(sio_client)
    drain(tab1, tab2, bob)

    sent = [say(tab1, "one"), say(tab2, "two"), say(tab1, "three")]
    # The burst is per user: both tabs of alice draw from the same bucket.
    for sio_client in (tab2, tab1):
        ack = call(sio_client, "message", {"room": "general", "text": "four"})
        assert_error(ack, "rate_limited")
    # A limited message is neither stored nor broadcast.
    assert events(bob, "message") == sent
    assert events(tab1, "message") == sent
    # Another user is not affected, and the ids have no gap.
    assert say(bob, "bob's turn")["id"] == 4
    history = ok(call(bob, "history", {"room": "general"}))["messages"]
    assert [m["text"] for m in history] == ["one", "two", "three", "bob's turn"]
    assert_still_works(tab1)
    assert_still_works(tab2)
    ok(call(tab1, "typing", {"room": "general", "typing": False}))


def test_retry_after_says_when_to_retry(server_factory):  # noqa: F811
    server = server_factory(MESSAGE_BURST=1, MESSAGE_RATE=0.5)
    alice = server.connect("alice")
    join(alice)
    say(alice, "one")
    error = assert_error(call(alice, "message", {"room": "general", "text": "two"}), "rate_limited")
    # One message every 2 s: the next one is at most 2 s away (plus 1 ms of slack).
    assert 0 < error["retry_after"] <= 2.001


# -- internal --------------------------------------------------------------------------------


def test_internal_error_stores_and_broadcasts_nothing(app, connect, monkeypatch):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    first = say(alice, "before the failure")
    drain(alice, bob)

    repository = app.extensions["chat_repository"]
    original = repository.add_message

    def broken(*args, **kwargs):
        raise RuntimeError("database is on fire")

    monkeypatch.setattr(repository, "add_message", broken)
    ack = call(alice, "message", {"room": "general", "text": "lost", "client_id": "retry-me"})
    assert_error(ack, "internal")
    assert_no_events(alice, bob)
    assert alice.is_connected()

    monkeypatch.setattr(repository, "add_message", original)
    assert_still_works(alice)
    history = ok(call(bob, "history", {"room": "general"}))
    assert history["messages"] == [first]
    assert room_list(bob)["general"]["last_message_id"] == 1
    # Retrying with the same client_id now stores it, with the next id.
    retried = say(alice, "lost", client_id="retry-me")
    assert_message(retried, id=2, room="general", user="alice", text="lost", client_id="retry-me")
    assert events(bob, "message") == [retried]
    assert events(alice, "message") == [retried]
    assert say(bob, "and on we go")["id"] == 3


# -- client_id idempotency -------------------------------------------------------------------


def test_same_client_id_returns_the_original(connect):
    alice = connect("alice")
    other_tab = connect("alice")
    bob = connect("bob")
    for sio_client in (alice, other_tab, bob):
        join(sio_client)
    drain(alice, other_tab, bob)

    original = say(alice, "hello once", client_id="c-1")
    assert events(bob, "message") == [original]
    drain(alice, other_tab)

    again = call(alice, "message", {"room": "general", "text": "hello once", "client_id": "c-1"})
    assert again == {"ok": True, "message": original}
    # Even with a different text, and from another tab of the same user.
    changed = call(other_tab, "message", {"room": "general", "text": "edited?", "client_id": "c-1"})
    assert changed == {"ok": True, "message": original}
    # Nothing was broadcast, to anyone, and nothing new was stored.
    assert_no_events(alice, other_tab, bob)
    history = ok(call(bob, "history", {"room": "general"}))
    assert history["messages"] == [original]
    assert room_list(bob)["general"]["last_message_id"] == 1
    # The next message simply gets the next id.
    assert say(alice, "next", client_id="c-2")["id"] == 2


def test_same_client_id_after_reconnecting(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    original = say(alice, "did this arrive?", client_id="lost-ack")
    alice.disconnect()
    drain(bob)

    alice = connect("alice")
    join(alice)
    retry = call(
        alice, "message", {"room": "general", "text": "did this arrive?", "client_id": "lost-ack"}
    )
    assert retry == {"ok": True, "message": original}
    assert events(bob, "message") == []
    assert events(alice, "message") == []


def test_same_client_id_in_another_room_is_a_new_message(connect):
    alice = connect("alice")
    bob = connect("bob")
    for sio_client in (alice, bob):
        join(sio_client)
        join(sio_client, "other")
    say(alice, "filler")
    drain(alice, bob)
    in_general = say(alice, "hi", client_id="shared")
    in_other = say(alice, "hi", room="other", client_id="shared")
    assert_message(in_general, id=2, room="general", user="alice", text="hi", client_id="shared")
    assert_message(in_other, id=1, room="other", user="alice", text="hi", client_id="shared")
    assert events(bob, "message") == [in_general, in_other]


def test_same_client_id_from_another_user_is_a_new_message(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    drain(alice, bob)
    from_alice = say(alice, "hi", client_id="same-uuid")
    from_bob = say(bob, "hi", client_id="same-uuid")
    assert_message(from_alice, id=1, room="general", user="alice", text="hi", client_id="same-uuid")
    assert_message(from_bob, id=2, room="general", user="bob", text="hi", client_id="same-uuid")
    assert events(alice, "message") == [from_alice, from_bob]
    assert events(bob, "message") == [from_alice, from_bob]
    # Each user's retry still finds their own message.
    assert call(bob, "message", {"room": "general", "text": "hi", "client_id": "same-uuid"}) == {
        "ok": True,
        "message": from_bob,
    }


def test_client_id_is_remembered_however_late_the_retry(app, connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    original = say(alice, "yesterday", client_id="old")
    drain(bob)
    ports = app.extensions["chat"].ports
    real_clock = ports.clock
    ports.clock = lambda: real_clock() + timedelta(days=30)
    assert say(alice, "a month later", client_id="old") == original
    assert events(bob, "message") == []


def test_history_of_an_empty_room(connect):
    alice = connect("alice")
    assert call(alice, "history", {"room": "general"}) == {
        "ok": True,
        "messages": [],
        "has_more": False,
    }


def test_history_default_is_latest_50_oldest_first(busy):
    ack = call(busy.alice, "history", {"room": "general"})
    assert set(ack) == {"ok", "messages", "has_more"}
    assert ack["ok"] is True
    assert ids(ack["messages"]) == list(range(71, 121))
    assert ack["has_more"] is True
    assert ack["messages"] == busy.sent[70:]
    for message in ack["messages"]:
        assert set(message) == MESSAGE_KEYS
        # one change each (its storing), and nothing changed since
        assert message["rev"] == message["id"], message
        assert message["reply_to"] is None and message["edited_at"] is None, message
        assert message["deleted"] is False and message["reactions"] == {}, message
        assert TS_RE.fullmatch(message["ts"])


def test_history_pages_back_with_before(busy):
    alice = busy.alice
    page = ok(call(alice, "history", {"room": "general"}))
    seen = list(page["messages"])
    while page["has_more"]:
        oldest = page["messages"][0]["id"]
        page = ok(call(alice, "history", {"room": "general", "before": oldest}))
        seen = page["messages"] + seen
    assert ids(seen) == list(range(1, 121))
    assert seen == busy.sent

    page = ok(call(alice, "history", {"room": "general", "before": 71}))
    assert (ids(page["messages"]), page["has_more"]) == (list(range(21, 71)), True)
    page = ok(call(alice, "history", {"room": "general", "before": 21}))
    assert (ids(page["messages"]), page["has_more"]) == (list(range(1, 21)), False)


@pytest.mark.parametrize(
    ("fields", "expected_ids", "has_more"),
    [
        ({"limit": 100}, range(21, 121), True),
        ({"limit": 1}, [120], True),
        ({"limit": 99}, range(22, 121), True),
        ({"before": 21, "limit": 20}, range(1, 21), False),
        ({"before": 22, "limit": 20}, range(2, 22), True),
        ({"before": 101, "limit": 100}, range(1, 101), False),
        ({"before": 2, "limit": 5}, [1], False),
        ({"before": 1}, [], False),
        ({"before": 121}, range(71, 121), True),
        ({"before": 500}, range(71, 121), True),
        ({"before": 2**53}, range(71, 121), True),
        ({"before": None, "limit": None}, range(71, 121), True),
        ({"before": 60, "limit": None}, range(10, 60), True),
    ],
)
def test_history_before_and_limit(busy, fields, expected_ids, has_more):
    ack = ok(call(busy.alice, "history", {"room": "general", **fields}))
    assert ids(ack["messages"]) == list(expected_ids)
    assert ack["has_more"] is has_more


def test_history_limit_over_100_is_invalid(busy):
    assert_error(call(busy.alice, "history", {"room": "general", "limit": 101}), "invalid")
    assert_still_works(busy.alice)


def test_history_of_a_public_room_not_joined(busy):
    bob = busy.connect("bob")
    ack = ok(call(bob, "history", {"room": "general", "limit": 3}))
    assert ids(ack["messages"]) == [118, 119, 120]
    assert ack["has_more"] is True
    # Reading did not join: bob gets no events and alice saw no presence.
    say(busy.alice, "bob is not here")
    assert events(bob) == []
    assert [name for name, _ in events(busy.alice)] == ["message"]


def test_history_of_a_missing_public_room_is_not_found(connect):
    alice = connect("alice")
    assert_error(call(alice, "history", {"room": "no-such-room"}), "not_found")
    assert "no-such-room" not in room_list(alice)  # reading does not create it
    assert_still_works(alice)
    assert join(alice, "no-such-room")["room"] == {
        "name": "no-such-room",
        "topic": "",
        "kind": "public",
        **owned("alice", "owner"),
        "rev": 0,
    }
    assert ok(call(alice, "history", {"room": "no-such-room"}))["messages"] == []


def test_history_broadcasts_nothing(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    say(alice, "x")
    drain(alice, bob)
    ok(call(alice, "history", {"room": "general"}))
    assert_no_events(alice, bob)


def test_history_is_per_room(busy):
    alice = busy.alice
    join(alice, "other")
    mine = [say(alice, f"other {n}", room="other") for n in (1, 2)]
    ack = ok(call(alice, "history", {"room": "other"}))
    assert ack == {"ok": True, "messages": mine, "has_more": False}
    assert ids(mine) == [1, 2]


# -- join: the latest page and catch-up with `since` -----------------------------------------


def test_join_without_since_gives_latest_50(busy):
    bob = busy.connect("bob")
    ack = join(bob)
    assert ids(ack["messages"]) == list(range(71, 121))
    assert ack["messages"] == busy.sent[70:]
    assert ack["has_more"] is True


@pytest.mark.parametrize(("stored", "has_more"), [(0, False), (1, False), (50, False), (51, True)])
def test_join_has_more_at_the_page_boundary(app, connect, stored, has_more):
    alice = connect("alice")
    seed(app, "general", "alice", stored)
    ack = join(alice)
    assert ids(ack["messages"]) == list(range(max(1, stored - 49), stored + 1))
    assert ack["has_more"] is has_more


@pytest.mark.parametrize(
    ("since", "expected_ids"),
    [
        (0, range(1, 121)),
        (1, range(2, 121)),
        (100, range(101, 121)),
        (119, [120]),
        (120, []),
        (500, []),
        (2**53, []),
    ],
)
def test_join_since(busy, since, expected_ids):
    bob = busy.connect("bob")
    ack = join(bob, since=since)
    assert ids(ack["messages"]) == list(expected_ids)
    assert ack["messages"] == [m for m in busy.sent if m["id"] > since]
    # has_more is about newer messages left out, not older ones.
    assert ack["has_more"] is False


def test_join_since_caps_at_500(app, connect):
    alice = connect("alice")
    seed(app, "general", "alice", 600)

    ack = join(alice, since=0)
    assert ids(ack["messages"]) == list(range(1, 501))
    assert ack["has_more"] is True
    ack = join(alice, since=ack["messages"][-1]["id"])
    assert ids(ack["messages"]) == list(range(501, 601))
    assert ack["has_more"] is False

    ack = join(alice, since=99)
    assert ids(ack["messages"]) == list(range(100, 600))
    assert ack["has_more"] is True
    ack = join(alice, since=100)
    assert ids(ack["messages"]) == list(range(101, 601))
    assert ack["has_more"] is False

    ack = join(alice)
    assert ids(ack["messages"]) == list(range(551, 601))
    assert ack["has_more"] is True
    for message in ack["messages"]:
        assert set(message) == MESSAGE_KEYS
        # one change each (its storing), and nothing changed since
        assert message["rev"] == message["id"], message
        assert message["reply_to"] is None and message["edited_at"] is None, message
        assert message["deleted"] is False and message["reactions"] == {}, message
        assert message["room"] == "general"
        assert message["user"] == "alice"
        assert message["text"] == f"seed {message['id']}"
        assert TS_RE.fullmatch(message["ts"])

    page = ok(call(alice, "history", {"room": "general", "before": 551, "limit": 100}))
    assert ids(page["messages"]) == list(range(451, 551))
    assert page["has_more"] is True

    # Ids are per room: a fresh room starts at 1 whatever general holds.
    join(alice, "other")
    assert say(alice, "first here", room="other")["id"] == 1
    assert say(alice, "next in general")["id"] == 601
    rooms = room_list(alice)
    assert rooms["general"]["last_message_id"] == 601
    assert rooms["other"]["last_message_id"] == 1


def test_join_since_after_reconnect_has_no_gap_and_no_overlap(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    held = [say(alice, f"m{n}") for n in (1, 2)]
    drain(bob)
    bob.disconnect()
    missed = [say(alice, f"m{n}") for n in (3, 4, 5)]

    bob = connect("bob")
    ack = join(bob, since=held[-1]["id"])
    assert ack["messages"] == missed
    assert ack["has_more"] is False
    assert events(bob) == []
    later = say(alice, "m6")
    assert events(bob) == [("message", later)]
    assert ids(held + ack["messages"] + [later]) == [1, 2, 3, 4, 5, 6]
