"""`report` (docs/protocol.md): the rules and errors, what is stored for the admins, a stranger
report ending the chat, and the threshold that holds a user out of stranger matching."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.models import utc_now
from app.extensions import db
from app.storage.models import Report
from tests.support.sockets import assert_error, call, events, join, ok, say, user_id

# A report budget that no test here runs out of (its own test: tests/test_budgets.py).
ROOMY = {"REPORT_RATE": 100, "REPORT_BURST": 100}


def report(sio_client, **fields) -> dict:
    return call(sio_client, "report", {"reason": "spam", **fields})


def stored(app) -> list[dict]:
    """Every stored report, oldest first, with the users' names and the context decoded."""
    with app.app_context():
        rows = db.session.scalars(select(Report).order_by(Report.id)).all()
        return [
            {
                "reporter": row.reporter_id,
                "reported": row.reported_id,
                "room": row.room_name,
                "message_id": row.message_id,
                "reason": row.reason,
                "context": json.loads(row.context),
                "status": row.status,
            }
            for row in rows
        ]


@pytest.fixture
def server(server_factory):
    return server_factory(**ROOMY)


def test_a_report_is_stored_and_answers_only_ok(server):
    app = server.app
    alice, bob = server.connect("alice"), server.connect("bob")
    assert report(alice, user="bob", reason="  rude to everyone  ") == {"ok": True}
    [row] = stored(app)
    assert row["reporter"] == user_id(app, "alice") and row["reported"] == user_id(app, "bob")
    assert row["reason"] == "rude to everyone"  # trimmed
    assert (row["room"], row["message_id"], row["context"], row["status"]) == (
        None,
        None,
        [],
        "open",
    )
    assert events(bob) == [] and events(alice) == []  # nobody is told anything


def test_a_reported_message_is_kept_with_up_to_ten_around_it(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    join(alice)
    join(bob)
    for n in range(1, 21):
        say(bob if n == 10 else alice, f"line {n}")
    assert report(alice, user="bob", room="general", message_id=10) == {"ok": True}
    [row] = stored(server.app)
    assert (row["room"], row["message_id"]) == ("general", 10)
    assert [m["id"] for m in row["context"]] == list(range(5, 16))
    assert row["context"][5]["user"] == "bob" and row["context"][5]["text"] == "line 10"
    # near the start of the room there are fewer before it
    assert report(alice, user="bob", room="general", message_id=2) == {"ok": True}
    assert [m["id"] for m in stored(server.app)[1]["context"]] == list(range(1, 8))


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"user": "bob", "reason": ""}, "invalid"),
        ({"user": "bob", "reason": "   "}, "invalid"),
        ({"user": "bob", "reason": "x" * 1001}, "invalid"),
        ({"user": "bob", "reason": 5}, "invalid"),
        ({"user": "bob", "message_id": 1}, "invalid"),  # message_id needs room
        ({"user": "bob", "room": "general", "message_id": 0}, "invalid"),
        ({"user": "alice"}, "invalid"),  # yourself
        ({"user": "ALICE"}, "invalid"),
        ({"user": "nobody"}, "not_found"),
        ({"user": "stranger-1234"}, "not_found"),  # no stranger met
        ({"user": "bob", "room": "nowhere"}, "not_found"),
        ({"user": "bob", "room": "general", "message_id": 99}, "not_found"),
        ({"user": "bob", "room": "pair:" + "0" * 32}, "forbidden"),
        ({"user": "bob", "room": "Bad Name"}, "invalid"),
        ({"reason": "spam"}, "invalid"),
    ],
)
def test_report_errors(server, fields, code):
    alice = server.connect("alice")
    server.token("bob")
    ack = call(alice, "report", {"reason": "spam", **fields})
    assert_error(ack, code)
    assert stored(server.app) == []


def test_a_reason_of_1000_characters_is_fine(server):
    alice = server.connect("alice")
    server.token("bob")
    assert report(alice, user="bob", reason="x" * 1000) == {"ok": True}


def test_reporting_a_private_room_you_are_not_in_is_forbidden(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    ok(call(alice, "dm", {"user": "bob"}))
    dm = ok(call(alice, "rooms", {}))["rooms"][-1]["name"]
    carol = server.connect("carol")
    assert_error(report(carol, user="bob", room=dm), "forbidden")
    assert report(bob, user="alice", room=dm) == {"ok": True}


def test_a_stranger_report_ends_the_chat_and_keeps_all_its_messages(server):
    app = server.app
    alice, bob = server.connect("alice"), server.connect("bob")
    ok(call(bob, "find_partner", {}))
    paired = ok(call(alice, "find_partner", {}))
    room = paired["room"]
    for n in range(30):
        say(bob if n % 2 else alice, f"chat {n}", room=room)
    events(alice)
    events(bob)

    assert report(alice, user=paired["partner"], reason="creepy") == {"ok": True}
    assert events(bob, "partner_left") == [{"room": room}]
    assert events(alice) == []
    assert_error(call(bob, "message", {"room": room, "text": "hello?"}), "forbidden")
    [row] = stored(app)
    assert row["reported"] == user_id(app, "bob") and row["room"] == room
    assert len(row["context"]) == 30
    # real names, for the admins
    assert {m["user"] for m in row["context"]} == {"alice", "bob"}
    # the ended chat's stranger can still be reported by alias (most recent partner), and
    # by naming the pair room with a message in it
    assert report(alice, user=paired["partner"], room=room, message_id=3) == {"ok": True}
    assert len(stored(app)[1]["context"]) == 30
    assert_error(report(alice, user=paired["you"]), "invalid")  # your own alias


def test_reporting_a_stranger_of_an_earlier_chat_by_room_and_alias(server_factory):
    server = server_factory(PAIR_REMATCH_SECONDS=0, **ROOMY)
    alice, bob, carol = (server.connect(name) for name in ("alice", "bob", "carol"))
    ok(call(bob, "find_partner", {}))
    first = ok(call(alice, "find_partner", {}))
    say(bob, "first chat", room=first["room"])
    ok(call(carol, "find_partner", {}))
    second = ok(call(alice, "find_partner", {}))  # "Next": carol now
    assert report(alice, user=first["partner"], room=first["room"]) == {"ok": True}
    row = stored(server.app)[0]
    assert row["reported"] == user_id(server.app, "bob")
    assert [m["text"] for m in row["context"]] == ["first chat"]
    # the current chat (with carol) goes on
    assert events(carol, "partner_left") == []
    say(alice, "still here", room=second["room"])


def reporters(server, count: int, target: str = "mallory", *, same: bool = False) -> None:
    """`count` reports of `target`: by that many different users, or all by one."""
    names = ["rep0"] * count if same else [f"rep{n}" for n in range(count)]
    for name in names:
        assert report(server.connect(name), user=target) == {"ok": True}


@pytest.mark.parametrize(
    ("count", "same", "held"), [(2, False, False), (3, True, False), (3, False, True)]
)
def test_three_different_reporters_hold_a_user_out_of_matching(server, count, same, held):
    mallory = server.connect("mallory")
    reporters(server, count, same=same)
    newcomer = server.connect("newcomer")
    assert ok(call(mallory, "find_partner", {}))["status"] == "waiting"
    status = ok(call(newcomer, "find_partner", {}))["status"]
    assert status == ("waiting" if held else "paired")
    assert len(events(mallory, "partner_found")) == (0 if held else 1)


def test_reaching_the_threshold_while_waiting_leaves_the_queue_silently(server):
    mallory = server.connect("mallory")
    assert ok(call(mallory, "find_partner", {}))["status"] == "waiting"
    reporters(server, 3)
    assert ok(call(server.connect("newcomer"), "find_partner", {}))["status"] == "waiting"
    assert events(mallory) == []
    assert ok(call(mallory, "find_partner", {}))["status"] == "waiting"


def test_an_admin_review_lets_the_user_be_matched_again(server):
    app = server.app
    mallory = server.connect("mallory")
    reporters(server, 3)
    with app.app_context():  # what the admin page does when an admin dismisses a report
        row = db.session.scalars(select(Report)).first()
        row.status, row.reviewed_at = "dismissed", utc_now() + timedelta(milliseconds=1)
        db.session.commit()
    assert ok(call(mallory, "find_partner", {}))["status"] == "waiting"
    assert ok(call(server.connect("newcomer"), "find_partner", {}))["status"] == "paired"
    # only reports made after the review count again
    reporters(server, 2)
    ok(call(mallory, "leave_partner", {}))
    assert ok(call(mallory, "find_partner", {}))["status"] == "waiting"
    assert ok(call(server.connect("another"), "find_partner", {}))["status"] == "paired"
