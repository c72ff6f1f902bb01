"""`sanctions` over the socket protocol (docs/protocol.md "Moderation"): who may list a room's
bans and mutes, each entry's fields, newest first, gone once lifted or run out, at most 200,
the refusals, and its budget."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.storage.models import Room, RoomSanction, User
from tests.support.sockets import TS_RE, assert_error, call, drain, events, join, ok
from tests.test_moderation import audit_rows, make_admin, move_clock


@pytest.fixture
def app(app_factory):
    return app_factory(PRESENCE_COALESCE=0)


@pytest.fixture
def lobby(server):
    """#lobby, created (so owned) by olga; moe is a moderator there; mia and max are members;
    ada is an admin. Each has one connection that joined #lobby."""
    users = {name: server.connect(name) for name in ("olga", "moe", "mia", "max", "ada")}
    make_admin(server.app, "ada")
    for name in ("olga", "moe", "mia", "max", "ada"):
        join(users[name], "lobby")
    ok(call(users["olga"], "set_role", {"room": "lobby", "user": "moe", "role": "moderator"}))
    drain(*users.values())
    return users


def act(sio_client, event: str, **payload) -> dict:
    return call(sio_client, event, payload)


def listed(sio_client, room: str = "lobby") -> list[dict]:
    """The `sanctions` of `room` as `sio_client` sees them (the ack has no other field)."""
    ack = ok(act(sio_client, "sanctions", room=room))
    assert set(ack) == {"ok", "sanctions"}
    return ack["sanctions"]


def parsed(ts: str) -> datetime:
    assert TS_RE.match(ts), ts
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_moderators_and_up_see_the_bans_and_mutes_newest_first(lobby, app):
    mo, olga, ada = lobby["moe"], lobby["olga"], lobby["ada"]
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(milliseconds=1)
    ok(act(mo, "ban", room="lobby", user="mia", minutes=60, reason="spam"))
    (kicked,) = events(lobby["mia"], "kicked")
    ok(act(olga, "mute", room="lobby", user="max", minutes=10))
    (muted,) = events(lobby["max"], "muted")
    ok(act(ada, "ban", room="lobby", user="olga"))  # an admin outranks the owner
    after = datetime.now(UTC).replace(tzinfo=None) + timedelta(milliseconds=1)
    drain(*lobby.values())

    entries = listed(mo)
    assert [{k: v for k, v in e.items() if k != "at"} for e in entries] == [
        {"user": "olga", "kind": "ban", "until": None, "reason": None, "by": "ada"},
        {"user": "max", "kind": "mute", "until": muted["until"], "reason": None, "by": "olga"},
        {"user": "mia", "kind": "ban", "until": kicked["until"], "reason": "spam", "by": "moe"},
    ]
    times = [parsed(e["at"]) for e in entries]
    assert after >= times[0] >= times[1] >= times[2] >= before
    # `until` is `at` plus the minutes given
    assert parsed(entries[2]["until"]) - times[2] == timedelta(minutes=60)
    assert parsed(entries[1]["until"]) - times[1] == timedelta(minutes=10)
    # the admin sees the same; the banned owner is no longer staff there
    assert listed(ada) == entries
    assert listed(ada, "general") == []  # only that room's
    # listing is not an action: nothing is audited, nobody is told
    assert audit_rows(app)[-1]["what"] == "ban"
    for sio_client in lobby.values():
        assert events(sio_client) == []


@pytest.mark.parametrize("caller", ["mia", "max"])
def test_a_member_may_not_list_them(lobby, caller):
    ok(act(lobby["moe"], "mute", room="lobby", user="mia", minutes=10))
    refused = assert_error(act(lobby[caller], "sanctions", room="lobby"), "forbidden")
    assert refused["message"] == "Only a moderator and up of #lobby may do that."


def test_a_moderator_removed_from_the_role_may_no_longer_list_them(lobby):
    assert listed(lobby["moe"]) == []
    ok(act(lobby["olga"], "set_role", room="lobby", user="moe", role="member"))
    assert_error(act(lobby["moe"], "sanctions", room="lobby"), "forbidden")


def test_lifted_and_replaced_ones_are_gone(lobby):
    mo = lobby["moe"]
    ok(act(mo, "ban", room="lobby", user="mia"))
    ok(act(mo, "mute", room="lobby", user="max", minutes=5))
    assert [(e["user"], e["kind"]) for e in listed(mo)] == [("max", "mute"), ("mia", "ban")]
    ok(act(mo, "unban", room="lobby", user="mia"))
    assert [(e["user"], e["kind"]) for e in listed(mo)] == [("max", "mute")]
    # muting again replaces the mute: one entry, the newest, first
    ok(act(mo, "ban", room="lobby", user="mia", minutes=1))
    ok(act(mo, "mute", room="lobby", user="max", minutes=30, reason="again"))
    entries = listed(mo)
    assert [(e["user"], e["kind"], e["reason"]) for e in entries] == [
        ("max", "mute", "again"),
        ("mia", "ban", None),
    ]
    olga = lobby["olga"]  # (moe's moderate budget is spent)
    ok(act(olga, "unmute", room="lobby", user="max"))
    ok(act(olga, "unban", room="lobby", user="mia"))
    assert listed(olga) == []


def test_ones_that_ran_out_are_gone(lobby, server):
    mo = lobby["moe"]
    ok(act(mo, "mute", room="lobby", user="mia", minutes=10))
    ok(act(mo, "ban", room="lobby", user="max", minutes=5))
    ok(act(mo, "ban", room="lobby", user="mia"))  # until lifted: never runs out
    move_clock(server, 5 * 60 - 1)  # each move adds to the ones before
    assert [(e["user"], e["kind"]) for e in listed(mo)] == [
        ("mia", "ban"),
        ("max", "ban"),
        ("mia", "mute"),
    ]
    move_clock(server, 2)  # five minutes and a second on
    assert [(e["user"], e["kind"]) for e in listed(mo)] == [("mia", "ban"), ("mia", "mute")]
    move_clock(server, 5 * 60)  # ten minutes and a second on
    assert [(e["user"], e["kind"]) for e in listed(mo)] == [("mia", "ban")]


def test_by_is_null_when_the_moderator_is_gone(lobby, app):
    ok(act(lobby["moe"], "ban", room="lobby", user="mia", reason="spam"))
    with app.app_context():  # as if moe's account had been removed
        db.session.execute(update(RoomSanction).values(by_user_id=None))
        db.session.commit()
    (entry,) = listed(lobby["olga"])
    assert (entry["user"], entry["by"], entry["reason"]) == ("mia", None, "spam")


def test_at_most_the_200_newest_are_listed(lobby, app):
    start = datetime(2026, 1, 1)
    with app.app_context():
        room_id = db.session.scalar(select(Room.id).where(Room.name == "lobby"))
        for i in range(205):
            user = User(username=f"u{i}", username_key=f"u{i}", password_hash="x")
            db.session.add(user)
            db.session.flush()
            db.session.add(
                RoomSanction(
                    room_id=room_id,
                    user_id=user.id,
                    kind="ban",
                    until=None,
                    created_at=start + timedelta(seconds=i),
                )
            )
        db.session.commit()
    entries = listed(lobby["moe"])
    assert [e["user"] for e in entries] == [f"u{i}" for i in range(204, 4, -1)]
    assert entries[0]["at"] == "2026-01-01T00:03:24.000Z" and entries[0]["by"] is None


def test_private_unknown_and_malformed_rooms_are_refused(lobby, connect):
    olga, ada = lobby["olga"], lobby["ada"]
    dm = ok(call(olga, "dm", {"user": "mia"}))["room"]["name"]
    for sio_client in (olga, ada):
        assert_error(act(sio_client, "sanctions", room=dm), "forbidden")
        assert_error(act(sio_client, "sanctions", room="pair:x"), "forbidden")
        assert_error(act(sio_client, "sanctions", room="nowhere"), "not_found")
    for payload in ({}, {"room": 5}, {"room": None}, {"room": "Lobby!"}, {"room": "a:b"}):
        assert_error(call(olga, "sanctions", payload), "invalid")
    assert_error(call(olga, "sanctions", ["lobby"]), "invalid")
    assert "nowhere" not in [r["name"] for r in ok(call(olga, "rooms", {}))["rooms"]]
    assert listed(olga) == []  # still answering


def test_sanctions_draws_on_the_moderate_budget(lobby):
    mo = lobby["moe"]
    for _ in range(10):  # MODERATE_BURST
        listed(mo)
    refused = assert_error(act(mo, "sanctions", room="lobby"), "rate_limited")
    assert refused["retry_after"] > 0
    # the same bucket as the other moderation events
    assert_error(act(mo, "unban", room="lobby", user="mia"), "rate_limited")
    # and only that one
    ok(call(mo, "history", {"room": "lobby"}))
