"""Socket.IO protocol v1 (docs/protocol.md), tested as a client author would see it.

Connecting and credentials, `rooms`, `join`, `leave`, `typing`, presence, payload validation
and unknown events. Messages, history and catch-up live in test_events_messages.py; both
use the helpers in tests/support/sockets.py.
"""

import time
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeTimedSerializer

from app.extensions import db
from tests.support.accounts import PASSWORD, issue_token
from tests.support.sockets import (
    GENERAL_TOPIC,
    NO_STAFF,
    assert_error,
    assert_no_events,
    assert_refused,
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


@pytest.fixture
def app(app_factory):
    """The test app without presence coalescing: these tests check who is told what, one
    change at a time (coalescing, which holds a change made inside PRESENCE_COALESCE of the
    previous one, is tested in test_budgets.py)."""
    return app_factory(PRESENCE_COALESCE=0)


# -- connecting ------------------------------------------------------------------------------


def test_token_in_auth_connects(server):
    alice = server.connect("alice")
    assert alice.connect_errors == []
    assert join(alice)["members"] == ["alice"]


def test_no_credentials_are_refused(server):
    assert_refused(server.open())


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"token": None},
        {"token": ""},
        {"token": "not-a-token"},
        {"token": 12345},
        {"token": ["x"]},
        {"password": PASSWORD},
    ],
    ids=["empty", "null", "blank", "garbage", "number", "list", "no-token"],
)
def test_bad_auth_is_refused(server, auth):
    assert_refused(server.open(auth=auth))


def test_tampered_token_is_refused(server):
    token = server.token("alice")
    # a character inside the signature: the last base64 character may carry only padding bits
    cut = token.rindex(".") + 3
    tampered = token[:cut] + ("A" if token[cut] != "A" else "B") + token[cut + 1 :]
    assert_refused(server.open(auth={"token": tampered}))


def test_foreign_token_is_refused(server):
    server.token("alice")
    uid = user_id(server.app, "alice")
    foreign = URLSafeTimedSerializer("some-other-server-secret").dumps({"uid": uid})
    assert_refused(server.open(auth={"token": foreign}))


def test_token_of_deleted_user_is_refused(server):
    from app.storage.models import User

    token = server.token("ghost")
    with server.app.app_context():
        db.session.query(User).filter_by(username="ghost").delete()
        db.session.commit()
    assert_refused(server.open(auth={"token": token}))


def test_expired_token_is_refused(server_factory, monkeypatch):
    server = server_factory(TOKEN_MAX_AGE=60)
    token = server.token("alice")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 120)
    assert_refused(server.open(auth={"token": token}))


def test_session_cookie_connects(server):
    http = server.logged_in_http("alice")
    alice = server.open(flask_test_client=http)
    assert alice.is_connected(), alice.connect_errors
    ack = join(alice)
    assert ack["members"] == ["alice"]
    assert say(alice, "from the browser")["user"] == "alice"


def test_logged_out_cookie_is_refused(server):
    http = server.logged_in_http("alice")
    assert http.post("/auth/logout").status_code == 302
    assert_refused(server.open(flask_test_client=http))


def test_token_takes_precedence_over_cookie(server):
    http = server.logged_in_http("alice")
    bob_token = server.token("bob")
    sio_client = server.open(flask_test_client=http, auth={"token": bob_token})
    assert sio_client.is_connected(), sio_client.connect_errors
    assert join(sio_client)["members"] == ["bob"]
    assert say(sio_client, "who am I")["user"] == "bob"


def test_bad_token_with_good_cookie_is_refused(server):
    http = server.logged_in_http("alice")
    assert_refused(server.open(flask_test_client=http, auth={"token": "bad-token"}))


def test_token_expiring_mid_connection(server_factory, monkeypatch):
    server = server_factory(TOKEN_MAX_AGE=60)
    real_time = time.time
    offset = {"seconds": 0.0}
    server.app.extensions["chat"].ports.wall_clock = lambda: real_time() + offset["seconds"]

    alice = server.connect("alice")
    # bob uses a browser session: it does not expire with alice's token
    bob = server.open(flask_test_client=server.logged_in_http("bob"))
    assert bob.is_connected()
    join(alice)
    join(bob)
    first = say(alice, "before expiry")
    ok(call(alice, "typing", {"room": "general", "typing": True}))
    drain(alice, bob)

    offset["seconds"] = 120  # alice's token (60 s) has now expired
    attempts = [
        ("rooms", {}),
        ("join", {"room": "general"}),
        ("join", {"room": "elsewhere"}),
        ("message", {"room": "general", "text": "after expiry"}),
        ("typing", {"room": "general", "typing": False}),
        ("history", {"room": "general"}),
        ("leave", {"room": "general"}),
    ]
    for event, payload in attempts:
        assert_error(call(alice, event, payload), "unauthorized")
        assert alice.is_connected()
    # Nothing got through: no broadcast, nothing stored, no room created.
    assert events(bob) == []
    history = ok(call(bob, "history", {"room": "general"}))
    assert history["messages"] == [first]
    assert "elsewhere" not in room_list(bob)

    # Reconnecting with a new token works; the old token is refused.
    monkeypatch.setattr(time, "time", lambda: real_time() + 120)
    fresh = server.open(auth={"token": issue_token(server.app.test_client(), "alice")})
    assert fresh.is_connected(), fresh.connect_errors
    join(fresh)
    assert say(fresh, "after reconnecting")["id"] == 2
    assert_refused(server.open(auth={"token": server.tokens["alice"]}))


# -- rooms -----------------------------------------------------------------------------------


def test_rooms_lists_the_seeded_general_room(connect):
    alice = connect("alice")
    ack = ok(call(alice, "rooms", {}))
    assert ack == {
        "ok": True,
        "rooms": [
            {
                "name": "general",
                "topic": GENERAL_TOPIC,
                "online": 0,
                "last_message_id": None,
                "kind": "public",
                **NO_STAFF,
            }
        ],
        "next": None,
    }


def test_rooms_sorted_with_online_counts_and_last_ids(connect):
    alice1 = connect("alice")
    alice2 = connect("alice")
    bob = connect("bob")
    for room in ("zeta", "alpha", "m-1"):
        join(bob, room)
    join(alice1)
    join(alice2)
    join(bob)
    say(bob, "one", room="alpha")
    say(bob, "two", room="alpha")
    say(alice1, "hello")

    ack = ok(call(alice1, "rooms", {}))
    assert [room["name"] for room in ack["rooms"]] == ["alpha", "general", "m-1", "zeta"]
    assert ack["rooms"] == [
        {
            "name": "alpha",
            "topic": "",
            "online": 1,
            "last_message_id": 2,
            "kind": "public",
            **owned("bob"),
        },
        {
            "name": "general",
            "topic": GENERAL_TOPIC,
            "online": 2,
            "last_message_id": 1,
            "kind": "public",
            **NO_STAFF,
        },
        {
            "name": "m-1",
            "topic": "",
            "online": 1,
            "last_message_id": None,
            "kind": "public",
            **owned("bob"),
        },
        {
            "name": "zeta",
            "topic": "",
            "online": 1,
            "last_message_id": None,
            "kind": "public",
            **owned("bob"),
        },
    ]

    # Two tabs of alice are one user: leaving with one tab keeps her online.
    ok(call(alice1, "leave", {"room": "general"}))
    assert room_list(bob)["general"]["online"] == 2
    alice2.disconnect()
    assert room_list(bob)["general"]["online"] == 1
    ok(call(bob, "leave", {"room": "general"}))
    assert room_list(bob)["general"]["online"] == 0
    bob.disconnect()
    assert room_list(alice1)["alpha"]["online"] == 0


def test_rooms_ignores_unknown_keys(connect):
    alice = connect("alice")
    assert set(room_list(alice)) == {"general"}
    ack = ok(call(alice, "rooms", {"filter": "x", "since": 3}))
    assert [room["name"] for room in ack["rooms"]] == ["general"]


def test_rooms_broadcasts_nothing(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    drain(alice, bob)
    room_list(alice)
    assert_no_events(alice, bob)


# -- join ------------------------------------------------------------------------------------


def test_join_general_ack_shape(connect):
    alice = connect("alice")
    ack = join(alice)
    assert ack == {
        "ok": True,
        "room": {"name": "general", "topic": GENERAL_TOPIC, "kind": "public", **NO_STAFF, "rev": 0},
        "members": ["alice"],
        "messages": [],
        "has_more": False,
        "updates": [],
        "updates_truncated": False,
    }
    # The joining connection does not get its own `joined`.
    assert events(alice) == []


def test_join_creates_a_public_room(connect):
    alice = connect("alice")
    bob = connect("bob")
    assert "team-42" not in room_list(alice)
    ack = join(alice, "team-42")
    assert ack == {
        "ok": True,
        "room": {
            "name": "team-42",
            "topic": "",
            "kind": "public",
            **owned("alice", "owner"),
            "rev": 0,
        },
        "members": ["alice"],
        "messages": [],
        "has_more": False,
        "updates": [],
        "updates_truncated": False,
    }
    assert room_list(bob)["team-42"] == {
        "name": "team-42",
        "topic": "",
        "online": 1,
        "last_message_id": None,
        "kind": "public",
        **owned("alice"),
    }


@pytest.mark.parametrize("room", ["a", "0", "a_b", "team-42", "x" * 64, "-", "_-_9"])
def test_join_accepts_valid_public_names(connect, room):
    alice = connect("alice")
    ack = join(alice, room)
    assert ack["room"] == {
        "name": room,
        "topic": "",
        "kind": "public",
        **owned("alice", "owner"),
        "rev": 0,
    }
    assert room in room_list(alice)


def test_join_ignores_unknown_keys_and_null_since(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(bob)
    say(bob, "hi")
    ack = join(alice, since=None, colour="blue")
    assert [m["text"] for m in ack["messages"]] == ["hi"]
    assert ack["has_more"] is False


def test_join_again_answers_the_same_way_without_new_presence(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(bob)
    first = join(alice)
    say(bob, "hello")
    drain(alice, bob)
    second = join(alice)
    # the same room, one revision on: bob's message
    assert second["room"] == {**first["room"], "rev": first["room"]["rev"] + 1}
    assert second["members"] == ["alice", "bob"]
    assert [m["text"] for m in second["messages"]] == ["hello"]
    assert_no_events(bob, alice)
    # Still joined exactly once: one leave is enough to get `left`.
    ok(call(alice, "leave", {"room": "general"}))
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "left"})]
    assert_error(call(alice, "leave", {"room": "general"}), "not_in_room")


def test_members_are_online_users_sorted_ignoring_case(connect):
    zed = connect("Zed")
    amy = connect("amy")
    bob1 = connect("Bob")
    bob2 = connect("Bob")
    carol = connect("carol")
    join(carol, "other")  # online, but in another room
    assert join(zed)["members"] == ["Zed"]
    assert join(amy)["members"] == ["amy", "Zed"]
    assert join(bob1)["members"] == ["amy", "Bob", "Zed"]
    assert join(bob2)["members"] == ["amy", "Bob", "Zed"]
    zed.disconnect()
    ok(call(bob1, "leave", {"room": "general"}))
    assert join(amy)["members"] == ["amy", "Bob"]
    ok(call(bob2, "leave", {"room": "general"}))
    assert join(amy)["members"] == ["amy"]


# -- presence --------------------------------------------------------------------------------


def test_presence_joined_and_left(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(bob)
    drain(bob)
    join(alice)
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "joined"})]
    assert events(alice) == []
    ok(call(alice, "leave", {"room": "general"}))
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "left"})]
    assert events(alice) == []


def test_presence_two_tabs_are_one_member(connect):
    bob = connect("bob")
    tab1 = connect("alice")
    tab2 = connect("alice")
    join(bob)
    drain(bob)

    join(tab1)
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "joined"})]
    join(tab2)  # second tab: no new `joined`, for anyone
    assert_no_events(bob, tab1, tab2)
    assert room_list(bob)["general"]["online"] == 2

    ok(call(tab1, "leave", {"room": "general"}))  # alice is still there in tab2
    assert_no_events(bob, tab2)
    assert join(bob)["members"] == ["alice", "bob"]

    tab2.disconnect()  # her last connection in the room
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "left"})]
    assert events(tab1) == []  # tab1 left the room already
    assert join(bob)["members"] == ["bob"]


def test_presence_left_on_disconnect_of_last_tab(connect):
    bob = connect("bob")
    tab1 = connect("alice")
    tab2 = connect("alice")
    join(bob)
    join(bob, "side")
    join(tab1)
    join(tab2)
    join(tab1, "side")
    drain(bob, tab1, tab2)

    tab1.disconnect()  # still in general through tab2; gone from side
    assert events(bob) == [("presence", {"room": "side", "user": "alice", "status": "left"})]
    assert events(tab2) == []
    tab2.disconnect()
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "left"})]


def test_presence_when_a_second_tab_leaves_after_the_first_disconnects(connect):
    bob = connect("bob")
    tab1 = connect("alice")
    tab2 = connect("alice")
    join(bob)
    join(tab1)
    join(tab2)
    drain(bob)
    tab1.disconnect()
    assert events(bob) == []
    ok(call(tab2, "leave", {"room": "general"}))
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "left"})]
    join(tab2)
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "joined"})]


def test_presence_of_a_user_joining_is_not_sent_to_their_other_tabs_outside_the_room(connect):
    tab1 = connect("alice")
    tab2 = connect("alice")
    join(tab1)
    drain(tab1, tab2)
    join(tab2, "side")
    assert_no_events(tab1, tab2)


# -- leave -----------------------------------------------------------------------------------


def test_leave_ack_and_stops_room_events(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    drain(alice, bob)
    assert call(bob, "leave", {"room": "general"}) == {"ok": True}
    assert events(alice) == [("presence", {"room": "general", "user": "bob", "status": "left"})]
    assert events(bob) == []
    say(alice, "bob is gone")
    ok(call(alice, "typing", {"room": "general", "typing": True}))
    join(alice, "other")  # no presence for bob either
    assert events(bob) == []


def test_leave_without_join_is_not_in_room(connect):
    alice = connect("alice")
    assert_error(call(alice, "leave", {"room": "general"}), "not_in_room")
    assert_error(call(alice, "leave", {"room": "nowhere"}), "not_in_room")
    assert_still_works(alice)


def test_leave_is_per_connection(connect):
    tab1 = connect("alice")
    tab2 = connect("alice")
    join(tab1)
    assert_error(call(tab2, "leave", {"room": "general"}), "not_in_room")
    ok(call(tab1, "leave", {"room": "general"}))
    assert_error(call(tab1, "leave", {"room": "general"}), "not_in_room")
    assert_still_works(tab1)


def test_rejoin_after_leave(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(bob)
    join(alice)
    say(bob, "while alice was here")
    ok(call(alice, "leave", {"room": "general"}))
    drain(alice, bob)
    ack = join(alice)
    assert ack["members"] == ["alice", "bob"]
    assert [m["text"] for m in ack["messages"]] == ["while alice was here"]
    assert events(bob) == [("presence", {"room": "general", "user": "alice", "status": "joined"})]
    say(bob, "welcome back")
    assert [m["text"] for m in events(alice, "message")] == ["welcome back"]


# -- typing ----------------------------------------------------------------------------------


def test_typing_goes_to_other_users_only(connect):
    tab1 = connect("alice")
    tab2 = connect("alice")
    bob1 = connect("bob")
    bob2 = connect("bob")
    carol = connect("carol")
    for sio_client in (tab1, tab2, bob1, bob2):
        join(sio_client)
    join(carol, "other")
    drain(tab1, tab2, bob1, bob2, carol)

    assert call(tab1, "typing", {"room": "general", "typing": True}) == {"ok": True}
    expected = [("typing", {"room": "general", "user": "alice", "typing": True})]
    assert events(bob1) == expected
    assert events(bob2) == expected
    assert_no_events(tab1, tab2, carol)

    assert call(tab2, "typing", {"room": "general", "typing": False}) == {"ok": True}
    expected = [("typing", {"room": "general", "user": "alice", "typing": False})]
    assert events(bob1) == expected
    assert events(bob2) == expected
    assert_no_events(tab1, tab2, carol)


def test_typing_without_join_is_not_in_room(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(bob)
    drain(bob)
    assert_error(call(alice, "typing", {"room": "general", "typing": True}), "not_in_room")
    assert_error(call(alice, "typing", {"room": "nowhere", "typing": True}), "not_in_room")
    assert events(bob) == []
    assert_still_works(alice)


def test_typing_is_per_connection(connect):
    tab1 = connect("alice")
    tab2 = connect("alice")
    bob = connect("bob")
    join(tab1)
    join(bob)
    drain(bob)
    assert_error(call(tab2, "typing", {"room": "general", "typing": True}), "not_in_room")
    assert events(bob) == []


def test_typing_rate_limited(server_factory):
    server = server_factory(TYPING_RATE=0.001, TYPING_BURST=3)
    tab1 = server.connect("alice")
    tab2 = server.connect("alice")
    bob = server.connect("bob")
    for sio_client in (tab1, tab2, bob):
        join(sio_client)
    drain(tab1, tab2, bob)

    ok(call(tab1, "typing", {"room": "general", "typing": True}))
    ok(call(tab2, "typing", {"room": "general", "typing": True}))
    ok(call(tab1, "typing", {"room": "general", "typing": False}))
    # The limit is per user: both of alice's tabs have used it up.
    assert_error(call(tab2, "typing", {"room": "general", "typing": True}), "rate_limited")
    assert_error(call(tab1, "typing", {"room": "general", "typing": True}), "rate_limited")
    assert len(events(bob, "typing")) == 3
    # Other users are not limited, and alice's connection keeps working.
    ok(call(bob, "typing", {"room": "general", "typing": True}))
    assert_still_works(tab1)
    say(tab1, "typing is limited, talking is not")


# -- room isolation --------------------------------------------------------------------------


def test_a_room_not_joined_sends_nothing(connect):
    alice = connect("alice")
    bob = connect("bob")
    carol = connect("carol")
    join(carol, "other")
    join(bob)
    drain(carol)

    join(alice)  # presence
    say(alice, "general only")  # message
    ok(call(alice, "typing", {"room": "general", "typing": True}))  # typing
    ok(call(alice, "leave", {"room": "general"}))  # presence left
    bob.disconnect()  # presence left on disconnect
    assert events(carol) == []


def test_events_carry_their_room(connect):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(alice, "other")
    join(bob)
    join(bob, "other")
    drain(alice, bob)
    say(alice, "in general")
    say(alice, "in other", room="other")
    ok(call(alice, "typing", {"room": "other", "typing": True}))
    received = events(bob)
    assert [(name, payload["room"]) for name, payload in received] == [
        ("message", "general"),
        ("message", "other"),
        ("typing", "other"),
    ]


# -- private rooms ---------------------------------------------------------------------------


@pytest.fixture
def private_room(app, connect):
    """dm:1-2 with alice and bob as members, carol not; one connection each."""
    clients = {name: connect(name) for name in ("alice", "bob", "carol")}
    repository = app.extensions["chat_repository"]
    with app.app_context():
        room = repository.create_room("dm:1-2", private=True)
        repository.add_member(room, user_id(app, "alice"))
        repository.add_member(room, user_id(app, "bob"))
    return SimpleNamespace(name="dm:1-2", **clients)


@pytest.mark.parametrize("room", ["dm:someone", "pair:abc", "dm:1-3"])
def test_private_form_names_are_forbidden(connect, room):
    alice = connect("alice")
    assert_error(call(alice, "join", {"room": room}), "forbidden")
    assert_error(call(alice, "history", {"room": room}), "forbidden")
    assert room not in room_list(alice)
    assert_still_works(alice)


def test_private_room_forbidden_to_non_members(private_room):
    carol = private_room.carol
    assert_error(call(carol, "join", {"room": private_room.name}), "forbidden")
    assert_error(call(carol, "history", {"room": private_room.name}), "forbidden")
    assert_error(call(carol, "message", {"room": private_room.name, "text": "x"}), "forbidden")
    assert_error(call(carol, "typing", {"room": private_room.name, "typing": True}), "forbidden")
    assert_still_works(carol)


def test_private_room_answer_is_the_same_as_for_a_missing_one(private_room):
    carol = private_room.carol
    for event in ("join", "history"):
        existing = call(carol, event, {"room": private_room.name})
        missing = call(carol, event, {"room": "dm:9-9"})
        assert_error(existing, "forbidden")
        assert existing == missing


def test_private_room_members_can_use_it(private_room):
    room, alice, bob, carol = (
        private_room.name,
        private_room.alice,
        private_room.bob,
        private_room.carol,
    )
    join(carol)
    ack = join(alice, room)
    assert ack == {
        "ok": True,
        "room": {"name": room, "topic": "", "kind": "dm", "with": "bob", **NO_STAFF, "rev": 0},
        "members": ["alice"],
        "messages": [],
        "has_more": False,
        "updates": [],
        "updates_truncated": False,
    }
    assert join(bob, room)["members"] == ["alice", "bob"]
    assert events(alice) == [("presence", {"room": room, "user": "bob", "status": "joined"})]
    message = say(alice, "just us", room=room)
    assert message["room"] == room
    assert message["id"] == 1
    assert events(bob, "message") == [message]
    history = ok(call(bob, "history", {"room": room}))
    assert history == {"ok": True, "messages": [message], "has_more": False}
    assert events(carol) == []


def test_private_rooms_are_listed_to_their_members_only(private_room):
    alice, carol = private_room.alice, private_room.carol
    join(alice, private_room.name)
    say(alice, "hidden", room=private_room.name)
    assert list(room_list(carol)) == ["general"]
    assert room_list(alice)[private_room.name] == {
        "name": private_room.name,
        "topic": "",
        "online": 1,
        "last_message_id": 1,
        "kind": "dm",
        "with": "bob",
        **NO_STAFF,
    }


# -- validation: invalid ---------------------------------------------------------------------

BAD_ROOM_NAMES = [
    "General",
    "GENERAL",
    "x" * 65,
    "",
    " general",
    "has space",
    "room!",
    "team/42",
    "a.b",
    "dm:",
    "general\n",
    "\ngeneral",
    "gen\teral",
    "gen\x00eral",
]


@pytest.mark.parametrize("room", BAD_ROOM_NAMES)
@pytest.mark.parametrize("event", ["join", "leave", "message", "typing", "history"])
def test_bad_room_names_are_invalid(connect, event, room):
    alice = connect("alice")
    join(alice)
    payload = {"room": room, "text": "hi", "typing": True}
    assert_error(call(alice, event, payload), "invalid")
    assert room not in room_list(alice)
    assert_still_works(alice)


NON_OBJECTS = ["general", ["general"], None, 5, True]
ALL_EVENTS = ["rooms", "join", "leave", "message", "typing", "history"]


@pytest.mark.parametrize("payload", NON_OBJECTS, ids=["string", "list", "null", "number", "bool"])
@pytest.mark.parametrize("event", ALL_EVENTS)
def test_non_object_payloads_are_invalid(connect, event, payload):
    alice = connect("alice")
    join(alice)
    drain(alice)
    assert_error(call(alice, event, payload), "invalid")
    assert events(alice) == []
    assert_still_works(alice)


VALID_PAYLOADS = {
    "rooms": {},
    "join": {"room": "general"},
    "leave": {"room": "general"},
    "message": {"room": "general", "text": "hi"},
    "typing": {"room": "general", "typing": True},
    "history": {"room": "general"},
}


@pytest.mark.parametrize("event", ["join", "leave", "message", "typing", "history"])
def test_no_argument_is_invalid(connect, event):
    """Without its object an event lacks its required fields."""
    alice = connect("alice")
    bob = connect("bob")
    join(bob)
    if event != "join":
        join(alice)
    drain(alice, bob)
    assert_error(call(alice, event), "invalid")
    assert_no_events(alice, bob)
    assert_still_works(alice)


@pytest.mark.parametrize("event", ALL_EVENTS)
def test_two_arguments_are_invalid(connect, event):
    alice = connect("alice")
    bob = connect("bob")
    if event != "join":
        join(alice)
    join(bob)
    drain(alice, bob)
    payload = VALID_PAYLOADS[event]
    assert_error(call(alice, event, payload, payload), "invalid")
    assert_no_events(bob, alice)
    assert ok(call(bob, "history", {"room": "general"}))["messages"] == []
    if event == "join":  # the refused join did not join
        assert_error(call(alice, "message", {"room": "general", "text": "x"}), "not_in_room")
    else:  # a refused leave did not leave
        say(alice, "still joined")
    assert_still_works(alice)


INVALID_FIELDS = [
    ("join", {}),
    ("join", {"room": None}),
    ("join", {"room": 5}),
    ("join", {"room": ["general"]}),
    ("join", {"room": "general", "since": "5"}),
    ("join", {"room": "general", "since": True}),
    ("join", {"room": "general", "since": 1.5}),
    ("join", {"room": "general", "since": -1}),
    ("join", {"room": "general", "since": 2**53 + 1}),
    ("join", {"room": "general", "since": [1]}),
    ("leave", {}),
    ("leave", {"room": None}),
    ("leave", {"room": 5}),
    ("message", {}),
    ("message", {"room": "general"}),
    ("message", {"text": "hi"}),
    ("message", {"room": "general", "text": None}),
    ("message", {"room": "general", "text": 5}),
    ("message", {"room": "general", "text": ["hi"]}),
    ("message", {"room": "general", "text": {"body": "hi"}}),
    ("message", {"room": 1, "text": "hi"}),
    ("message", {"room": "general", "text": ""}),
    ("message", {"room": "general", "text": "   "}),
    ("message", {"room": "general", "text": " \n\t \r\n "}),
    ("message", {"room": "general", "text": "a\x00b"}),
    ("message", {"room": "general", "text": "\x00"}),
    ("message", {"room": "general", "text": "lone \ud800 surrogate"}),
    ("message", {"room": "general", "text": "hi", "client_id": ""}),
    ("message", {"room": "general", "text": "hi", "client_id": "x" * 65}),
    ("message", {"room": "general", "text": "hi", "client_id": 5}),
    ("message", {"room": "general", "text": "hi", "client_id": True}),
    ("typing", {}),
    ("typing", {"room": "general"}),
    ("typing", {"typing": True}),
    ("typing", {"room": "general", "typing": None}),
    ("typing", {"room": "general", "typing": 1}),
    ("typing", {"room": "general", "typing": 0}),
    ("typing", {"room": "general", "typing": "true"}),
    ("history", {}),
    ("history", {"room": None}),
    ("history", {"room": 5}),
    ("history", {"room": "general", "before": "5"}),
    ("history", {"room": "general", "before": True}),
    ("history", {"room": "general", "before": 1.5}),
    ("history", {"room": "general", "before": -1}),
    ("history", {"room": "general", "before": 2**53 + 1}),
    ("history", {"room": "general", "limit": True}),
    ("history", {"room": "general", "limit": "10"}),
    ("history", {"room": "general", "limit": 0}),
    ("history", {"room": "general", "limit": -5}),
    ("history", {"room": "general", "limit": 101}),
    ("history", {"room": "general", "limit": 2.5}),
]


@pytest.mark.parametrize(("event", "payload"), INVALID_FIELDS)
def test_invalid_fields(connect, event, payload):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    drain(alice, bob)
    assert_error(call(alice, event, payload), "invalid")
    assert_no_events(alice, bob)
    assert ok(call(bob, "history", {"room": "general"}))["messages"] == []
    assert_still_works(alice)
    # and the same connection can still do the real thing
    say(alice, "still working")


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("join", {"room": "general", "since": 2**53}),
        ("join", {"room": "general", "since": 0}),
        ("history", {"room": "general", "before": 2**53}),
        ("history", {"room": "general", "limit": 1}),
        ("history", {"room": "general", "limit": 100}),
        ("history", {"room": "general", "before": None, "limit": None}),
        ("message", {"room": "general", "text": "hi", "client_id": "x" * 64}),
        ("message", {"room": "general", "text": "hi", "client_id": "x"}),
        ("message", {"room": "general", "text": "hi", "client_id": None}),
        ("typing", {"room": "general", "typing": False}),
    ],
)
def test_boundary_values_are_accepted(connect, event, payload):
    alice = connect("alice")
    join(alice)
    ok(call(alice, event, {**payload, "unknown_extra_key": [1, 2]}))


@pytest.mark.parametrize("event", ["shout", "Join", "ROOMS", "delete", "history2", "connect2"])
def test_unknown_event_is_invalid(connect, event):
    alice = connect("alice")
    bob = connect("bob")
    join(alice)
    join(bob)
    drain(alice, bob)
    assert_error(call(alice, event, {"room": "general", "text": "x"}), "invalid")
    assert_no_events(alice, bob)
    assert_still_works(alice)


def test_unknown_event_with_odd_arguments_is_invalid(connect):
    alice = connect("alice")
    assert_error(call(alice, "shout"), "invalid")
    assert_error(call(alice, "shout", "text"), "invalid")
    assert_error(call(alice, "shout", {}, {}), "invalid")
    assert_still_works(alice)


def test_every_error_in_a_row_leaves_the_connection_working(private_room):
    """One connection walks through one error of each kind it can trigger, then chats."""
    carol, bob = private_room.carol, private_room.bob
    join(bob)
    assert_error(call(carol, "join", {"room": "General"}), "invalid")
    assert_error(call(carol, "nope", {}), "invalid")
    assert_error(call(carol, "join", "general"), "invalid")
    assert_error(call(carol, "join", {"room": private_room.name}), "forbidden")
    assert_error(call(carol, "history", {"room": "missing-room"}), "not_found")
    assert_error(call(carol, "message", {"room": "general", "text": "x"}), "not_in_room")
    join(carol)
    assert_error(call(carol, "message", {"room": "general", "text": "x" * 4001}), "too_large")
    assert_error(call(carol, "message", {"room": "general", "text": "  "}), "invalid")
    assert carol.is_connected()
    drain(bob)
    message = say(carol, "all good")
    assert message["id"] == 1
    assert events(bob, "message") == [message]
