"""Moderation over the socket protocol (docs/protocol.md "Moderation"): roles in room objects,
who may act on whom, set_role and set_topic broadcasts, kick, ban and mute as the people in
the room and the sanctioned user see them, the audit log, and the refusals."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, update

from app.extensions import db
from app.storage.models import AuditEntry, User
from tests.support.accounts import api_error
from tests.support.sockets import (
    TS_RE,
    assert_error,
    assert_still_works,
    call,
    drain,
    events,
    join,
    ok,
    room_list,
    say,
    user_id,
)


@pytest.fixture
def app(app_factory):
    # every presence change sent at once: "left once" is then checked without waiting
    return app_factory(PRESENCE_COALESCE=0)


def make_admin(app, username: str) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.username == username).values(is_admin=True))
        db.session.commit()


def audit_rows(app) -> list[dict]:
    """The audit log, oldest first, with user ids as names."""
    with app.app_context():
        names = dict(db.session.execute(select(User.id, User.username)).all())
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [
            {
                "who": names.get(row.actor_id),
                "what": row.action,
                "whom": names.get(row.target_id),
                "where": row.room_name,
                "reason": row.reason,
                "details": json.loads(row.details),
                "when": row.created_at,
            }
            for row in rows
        ]


def act(sio_client, event: str, **payload) -> dict:
    return call(sio_client, event, payload)


@pytest.fixture
def lobby(server):
    """#lobby, created (so owned) by olga; moe is a moderator there; mia and max are members;
    ada is an admin. Each has one connection that joined #lobby."""
    users = {}
    for name in ("olga", "moe", "mia", "max", "ada"):
        users[name] = server.connect(name)
    make_admin(server.app, "ada")
    join(users["olga"], "lobby")
    for name in ("moe", "mia", "max", "ada"):
        join(users[name], "lobby")
    ok(act(users["olga"], "set_role", room="lobby", user="moe", role="moderator"))
    drain(*users.values())
    return users


# -- roles in the room objects ---------------------------------------------------------------


def test_the_creator_owns_a_room_and_everyone_sees_its_staff(lobby, connect):
    olga, mo, mia, ada = lobby["olga"], lobby["moe"], lobby["mia"], lobby["ada"]
    room = {
        "name": "lobby",
        "topic": "",
        "kind": "public",
        "owner": "olga",
        "moderators": ["moe"],
        "muted_until": None,
        "rev": 0,  # nothing said there yet
    }
    assert join(olga, "lobby")["room"] == {**room, "role": "owner"}
    assert join(mo, "lobby")["room"] == {**room, "role": "moderator"}
    assert join(mia, "lobby")["room"] == {**room, "role": "member"}
    # an admin has the owner's powers in every public room
    assert join(ada, "lobby")["room"] == {**room, "role": "owner"}
    listed = room_list(mia)["lobby"]
    assert (listed["owner"], listed["moderators"], listed["role"]) == ("olga", ["moe"], "member")
    assert room_list(mo)["lobby"]["role"] == "moderator"
    # the seeded room has no owner: admins run it
    assert room_list(olga)["general"]["owner"] is None
    assert room_list(olga)["general"]["role"] == "member"
    assert room_list(ada)["general"]["role"] == "owner"


def test_moderators_are_sorted_ignoring_case(lobby, connect):
    for name in ("Zed", "bea", "Carl"):
        connect(name)
        ok(act(lobby["olga"], "set_role", room="lobby", user=name, role="moderator"))
    assert join(lobby["mia"], "lobby")["room"]["moderators"] == ["bea", "Carl", "moe", "Zed"]


def test_the_rooms_page_reads_the_staff_in_a_bounded_number_of_queries(app, connect):
    alice = connect("alice")
    bob = connect("bob")
    with app.app_context():
        engine = db.engine

    def queries_for_rooms_page(sio_client=alice) -> int:
        statements = []

        def count(*args):
            statements.append(args)

        event.listen(engine, "before_cursor_execute", count)
        try:
            room_list(sio_client)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    join(alice, "one")
    few = queries_for_rooms_page()
    for number in range(8):  # within the room creation cap and the moderate burst
        join(alice, f"room-{number}")
        ok(act(alice, "set_role", room=f"room-{number}", user="bob", role="moderator"))
    assert all(room["moderators"] == ["bob"] for room in list(room_list(alice).values())[2:])
    assert queries_for_rooms_page() == few
    # bob's mutes come in the same query as the staff (two: the rest of the moderate burst)
    for number in range(2):
        ok(act(alice, "mute", room=f"room-{number}", user="bob", minutes=5))
    listed = room_list(bob)
    assert [name for name, room in listed.items() if room["muted_until"]] == ["room-0", "room-1"]
    assert queries_for_rooms_page(bob) == few


# -- set_role ----------------------------------------------------------------------------------


def test_set_role_appoints_and_removes_a_moderator_and_tells_the_room(lobby):
    olga, mo, mia, max_ = lobby["olga"], lobby["moe"], lobby["mia"], lobby["max"]
    ok(act(olga, "set_role", room="lobby", user="mia", role="moderator"))
    expected = {
        "room": {
            "name": "lobby",
            "topic": "",
            "kind": "public",
            "owner": "olga",
            "moderators": ["mia", "moe"],
        }
    }
    for sio_client in lobby.values():
        assert events(sio_client, "room_updated") == [expected]
    assert room_list(mia)["lobby"]["role"] == "moderator"
    # setting the role one already has is fine
    ok(act(olga, "set_role", room="lobby", user="mia", role="moderator"))
    drain(*lobby.values())
    ok(act(olga, "set_role", room="lobby", user="moe", role="member"))
    assert events(max_, "room_updated")[0]["room"]["moderators"] == ["mia"]
    assert room_list(mo)["lobby"]["role"] == "member"


def test_an_admin_appoints_moderators_in_general_which_has_no_owner(connect, app):
    ada, bob = connect("ada"), connect("bob")
    make_admin(app, "ada")
    join(bob)
    ok(act(ada, "set_role", room="general", user="bob", role="moderator"))
    assert events(bob, "room_updated")[0]["room"]["moderators"] == ["bob"]
    assert room_list(bob)["general"]["role"] == "moderator"


@pytest.mark.parametrize(
    ("actor", "target", "role"),
    [
        ("mia", "max", "moderator"),  # a member appoints no one
        ("moe", "mia", "moderator"),  # nor does a moderator
        ("moe", "moe", "member"),
        ("olga", "olga", "moderator"),  # the owner's role cannot be changed...
        ("ada", "olga", "member"),  # ...not even by an admin
        ("olga", "ada", "moderator"),  # an admin outranks the owner
    ],
)
def test_set_role_is_for_the_owner_and_admins_on_lower_ranks(lobby, actor, target, role):
    ack = act(lobby[actor], "set_role", room="lobby", user=target, role=role)
    assert_error(ack, "forbidden")
    assert [events(c, "room_updated") for c in lobby.values()] == [[]] * len(lobby)
    assert room_list(lobby["mia"])["lobby"]["moderators"] == ["moe"]


# -- set_topic ---------------------------------------------------------------------------------


def test_a_moderator_sets_the_topic_and_the_room_is_told(lobby, connect):
    outsider = connect("otto")  # not in the room: not told
    ok(act(lobby["moe"], "set_topic", room="lobby", topic="  Be kind, stay on topic  "))
    expected = {
        "room": {
            "name": "lobby",
            "topic": "Be kind, stay on topic",
            "kind": "public",
            "owner": "olga",
            "moderators": ["moe"],
        }
    }
    for sio_client in lobby.values():
        assert events(sio_client, "room_updated") == [expected]
    assert events(outsider) == []
    assert room_list(outsider)["lobby"]["topic"] == "Be kind, stay on topic"
    assert join(outsider, "lobby")["room"]["topic"] == "Be kind, stay on topic"
    ok(act(lobby["ada"], "set_topic", room="lobby", topic=""))
    assert room_list(outsider)["lobby"]["topic"] == ""


def test_a_member_cannot_set_the_topic(lobby):
    assert_error(act(lobby["mia"], "set_topic", room="lobby", topic="mine now"), "forbidden")
    assert room_list(lobby["mia"])["lobby"]["topic"] == ""


@pytest.mark.parametrize("topic", ["x" * 201, "line\nbreak", "bell\x07", 5, None])
def test_a_bad_topic_is_invalid(lobby, topic):
    assert_error(act(lobby["olga"], "set_topic", room="lobby", topic=topic), "invalid")
    assert_still_works(lobby["olga"])


def test_a_topic_of_200_characters_after_trimming_is_fine(lobby):
    ok(act(lobby["olga"], "set_topic", room="lobby", topic=" " + "é" * 200 + " "))
    assert room_list(lobby["mia"])["lobby"]["topic"] == "é" * 200


# -- who may act on whom -----------------------------------------------------------------------

# Nobody kicks, bans or mutes someone of equal or higher rank, themselves included.
REFUSED = [
    ("mia", "max"),  # member on member
    ("mia", "moe"),
    ("moe", "moe"),  # yourself
    ("moe", "olga"),  # moderator on owner
    ("olga", "olga"),
    ("olga", "ada"),  # owner on admin
    ("ada", "ada"),
]
ALLOWED = [("moe", "mia"), ("olga", "moe"), ("ada", "olga"), ("ada", "moe")]
SANCTIONS = [
    ("kick", {}),
    ("ban", {}),
    ("ban", {"minutes": 5}),
    ("mute", {"minutes": 5}),
    ("unban", {}),
    ("unmute", {}),
]


@pytest.mark.parametrize(("event", "extra"), SANCTIONS)
@pytest.mark.parametrize(("actor", "target"), REFUSED)
def test_nobody_acts_on_an_equal_or_higher_rank(lobby, app, actor, target, event, extra):
    ack = act(lobby[actor], event, room="lobby", user=target, **extra)
    assert_error(ack, "forbidden")
    for sio_client in lobby.values():
        assert [name for name, _ in events(sio_client)] == []
    assert lobby[target] and join(lobby[target], "lobby")
    assert audit_rows(app)[-1]["what"] == "set_role"  # only the fixture's appointment


@pytest.mark.parametrize(("actor", "target"), ALLOWED)
def test_a_higher_rank_may_kick(lobby, actor, target):
    ok(act(lobby[actor], "kick", room="lobby", user=target))
    assert events(lobby[target], "kicked") == [
        {"room": "lobby", "by": actor, "reason": None, "banned": False, "until": None}
    ]


def test_moderation_is_for_public_rooms_that_exist_and_users_that_exist(lobby, connect, app):
    olga, ada = lobby["olga"], lobby["ada"]
    dm = ok(call(olga, "dm", {"user": "mia"}))["room"]
    assert dm["owner"] is None and dm["moderators"] == [] and dm["role"] == "member"
    for sio_client in (olga, ada):
        assert_error(act(sio_client, "kick", room=dm["name"], user="mia"), "forbidden")
        assert_error(act(sio_client, "set_topic", room=dm["name"], topic="x"), "forbidden")
        assert_error(act(sio_client, "mute", room="pair:x", user="mia", minutes=1), "forbidden")
        assert_error(act(sio_client, "ban", room="nowhere", user="mia"), "not_found")
        assert_error(act(sio_client, "set_topic", room="nowhere", topic="x"), "not_found")
    assert_error(act(olga, "kick", room="lobby", user="nobody-here"), "not_found")
    assert_error(act(olga, "set_role", room="lobby", user="ghost", role="member"), "not_found")
    assert "nowhere" not in room_list(olga)  # asking did not create it


INVALID = [
    ("set_role", {"room": "lobby", "user": "mia", "role": "owner"}),
    ("set_role", {"room": "lobby", "user": "mia", "role": "admin"}),
    ("set_role", {"room": "lobby", "user": "mia"}),
    ("set_topic", {"room": "lobby"}),
    ("kick", {"room": "lobby"}),
    ("kick", {"room": "lobby", "user": "mia", "reason": "x" * 501}),
    ("kick", {"room": "lobby", "user": "mia", "reason": 5}),
    ("kick", {"room": "Lobby!", "user": "mia"}),
    ("kick", {"room": "lobby", "user": "no spaces"}),
    ("ban", {"room": "lobby", "user": "mia", "minutes": 0}),
    ("ban", {"room": "lobby", "user": "mia", "minutes": 525601}),
    ("ban", {"room": "lobby", "user": "mia", "minutes": "5"}),
    ("ban", {"room": "lobby", "user": "mia", "minutes": True}),
    ("ban", {"room": "lobby", "user": "mia", "minutes": 1.5}),
    ("mute", {"room": "lobby", "user": "mia"}),
    ("mute", {"room": "lobby", "user": "mia", "minutes": -1}),
    ("unban", {"room": "lobby", "user": 7}),
    ("unmute", ["lobby", "mia"]),
]


@pytest.mark.parametrize(("event", "payload"), INVALID)
def test_malformed_moderation_payloads_are_invalid(lobby, event, payload):
    assert_error(call(lobby["olga"], event, payload), "invalid")
    assert events(lobby["mia"]) == []
    assert_still_works(lobby["olga"])


def test_the_moderate_budget_limits_moderation_events(lobby):
    olga = lobby["olga"]
    for _ in range(9):  # MODERATE_BURST is 10; the fixture's set_role took one
        ok(act(olga, "set_topic", room="lobby", topic="again"))
    refused = assert_error(act(olga, "unmute", room="lobby", user="mia"), "rate_limited")
    assert refused["retry_after"] > 0
    # other events have budgets of their own
    say(olga, "still talking", room="lobby")


# -- kick --------------------------------------------------------------------------------------


def test_a_kick_takes_every_tab_out_and_the_room_sees_one_left(lobby, connect):
    mia2, mia3 = connect("mia"), connect("mia")  # mia3 never joined #lobby
    join(mia2, "lobby")
    drain(*lobby.values())
    ok(act(lobby["moe"], "kick", room="lobby", user="mia", reason="  calm down  "))
    kicked = {"room": "lobby", "by": "moe", "reason": "calm down", "banned": False, "until": None}
    for tab in (lobby["mia"], mia2, mia3):
        assert events(tab) == [("kicked", kicked)]
    left = {"room": "lobby", "user": "mia", "status": "left"}
    for name in ("olga", "moe", "max", "ada"):
        assert events(lobby[name], "presence") == [left]
    say(lobby["max"], "mia is gone", room="lobby")
    for tab in (lobby["mia"], mia2):
        assert events(tab) == []  # no longer subscribed
        assert_error(call(tab, "message", {"room": "lobby", "text": "hi"}), "not_in_room")
    assert "mia" not in join(lobby["max"], "lobby")["members"]
    # a kick is not a ban: she may come back
    assert "mia" in join(mia2, "lobby")["members"]
    say(mia2, "I'm back", room="lobby")


def test_kicking_someone_not_in_the_room_still_tells_them(lobby, connect):
    nina = connect("nina")
    ok(act(lobby["moe"], "kick", room="lobby", user="nina", reason=""))
    assert events(nina) == [
        ("kicked", {"room": "lobby", "by": "moe", "reason": None, "banned": False, "until": None})
    ]
    assert [events(c, "presence") for c in lobby.values()] == [[]] * len(lobby)


# -- ban ---------------------------------------------------------------------------------------


def test_a_ban_until_lifted_kicks_and_keeps_out_until_unban(lobby, server):
    mia, mo = lobby["mia"], lobby["moe"]
    ok(act(mo, "ban", room="lobby", user="mia", reason="spam"))
    assert events(mia) == [
        ("kicked", {"room": "lobby", "by": "moe", "reason": "spam", "banned": True, "until": None})
    ]
    assert events(lobby["max"], "presence") == [{"room": "lobby", "user": "mia", "status": "left"}]
    refused = assert_error(call(mia, "join", {"room": "lobby"}), "forbidden")
    assert refused["message"] == "You are banned from #lobby until a moderator lifts it."
    refused = assert_error(call(mia, "message", {"room": "lobby", "text": "hi"}), "forbidden")
    assert "banned" in refused["message"]
    response = server.app.test_client().post(
        "/api/rooms/lobby/messages",
        json={"text": "over http"},
        headers={"Authorization": f"Bearer {server.token('mia')}"},
    )
    assert "banned" in api_error(response, 403, "forbidden")["message"]
    # public rooms stay readable
    ok(call(mia, "history", {"room": "lobby"}))
    assert "mia" not in join(lobby["max"], "lobby")["members"]
    assert [m["text"] for m in ok(call(mia, "history", {"room": "lobby"}))["messages"]] == []

    ok(act(mo, "unban", room="lobby", user="mia"))
    assert events(mia) == []  # an unban is not announced
    join(mia, "lobby")
    say(mia, "thanks", room="lobby")
    ok(act(mo, "unban", room="lobby", user="mia"))  # no ban: fine


def test_a_ban_for_minutes_says_until_when(lobby):
    mia = lobby["mia"]
    before = datetime.now(UTC).replace(tzinfo=None)
    ok(act(lobby["olga"], "ban", room="lobby", user="mia", minutes=90))
    (kicked,) = events(mia, "kicked")
    assert kicked["banned"] is True and TS_RE.fullmatch(kicked["until"])
    until = datetime.strptime(kicked["until"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert timedelta(minutes=90) <= until - before < timedelta(minutes=91)
    refused = assert_error(call(mia, "join", {"room": "lobby"}), "forbidden")
    assert refused["message"] == f"You are banned from #lobby until {until:%Y-%m-%d %H:%M} UTC."
    # banning again replaces the earlier ban
    ok(act(lobby["olga"], "ban", room="lobby", user="mia"))
    refused = assert_error(call(mia, "join", {"room": "lobby"}), "forbidden")
    assert refused["message"].endswith("until a moderator lifts it.")


# -- mute --------------------------------------------------------------------------------------


def test_a_muted_user_reads_but_cannot_speak_until_unmuted(lobby, server, connect):
    mia, mia2, max_ = lobby["mia"], connect("mia"), lobby["max"]
    ok(act(lobby["moe"], "mute", room="lobby", user="mia", minutes=10, reason="cool off"))
    for tab in (mia, mia2):
        (muted,) = events(tab, "muted")
        assert set(muted) == {"room", "by", "until", "reason"}
        assert (muted["room"], muted["by"], muted["reason"]) == ("lobby", "moe", "cool off")
        assert TS_RE.fullmatch(muted["until"])
    refused = assert_error(call(mia, "message", {"room": "lobby", "text": "hey"}), "forbidden")
    assert refused["message"].startswith("You are muted in #lobby until ")
    assert_error(call(mia, "typing", {"room": "lobby", "typing": True}), "forbidden")
    http = server.app.test_client()
    response = http.post(
        "/api/rooms/lobby/messages",
        json={"text": "over http"},
        headers={"Authorization": f"Bearer {server.token('mia')}"},
    )
    assert "muted" in api_error(response, 403, "forbidden")["message"]
    assert events(max_, "message") == [] and events(max_, "typing") == []
    # still in the room: she reads what others say
    said = say(max_, "you can still read this", room="lobby")
    assert events(mia, "message") == [said]
    assert "mia" in join(max_, "lobby")["members"]
    # muted in #lobby only
    join(mia)
    say(mia, "fine here")

    ok(act(lobby["moe"], "unmute", room="lobby", user="mia"))
    for tab in (mia, mia2):
        assert events(tab, "unmuted") == [{"room": "lobby"}]
    say(mia, "I'm back", room="lobby")
    ok(call(mia, "typing", {"room": "lobby", "typing": False}))
    ok(act(lobby["moe"], "unmute", room="lobby", user="mia"))  # no mute: fine, still told
    assert events(mia2, "unmuted") == [{"room": "lobby"}]


def move_clock(server, seconds: float) -> None:
    """Move the app's clock (the one bans and mutes are checked against) `seconds` ahead."""
    ports = server.app.extensions["chat"].ports
    real = ports.wall_clock
    ports.wall_clock = lambda: real() + seconds


def test_a_page_that_reloads_learns_its_mute_from_join_and_rooms(lobby, server, connect):
    mia = lobby["mia"]
    before = datetime.now(UTC).replace(tzinfo=None)
    ok(act(lobby["moe"], "mute", room="lobby", user="mia", minutes=10))
    (muted,) = events(mia, "muted")
    # a new connection (a reload) never saw `muted`: join and rooms say until when
    reloaded = connect("mia")
    joined = join(reloaded, "lobby")["room"]
    assert joined["muted_until"] == muted["until"]
    until = datetime.strptime(joined["muted_until"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert timedelta(minutes=10) <= until - before < timedelta(minutes=11)
    listed = room_list(reloaded)
    assert listed["lobby"]["muted_until"] == muted["until"]
    # only the muted user, only in that room
    assert listed["general"]["muted_until"] is None
    assert join(reloaded, "general")["room"]["muted_until"] is None
    assert join(lobby["max"], "lobby")["room"]["muted_until"] is None
    assert room_list(lobby["max"])["lobby"]["muted_until"] is None
    # a DM never has a mute
    dm = call(reloaded, "dm", {"user": "max"})
    assert ok(dm)["room"]["muted_until"] is None
    # lifted: null again
    ok(act(lobby["moe"], "unmute", room="lobby", user="mia"))
    assert join(reloaded, "lobby")["room"]["muted_until"] is None
    assert room_list(reloaded)["lobby"]["muted_until"] is None


def test_a_mute_that_ran_out_is_null(lobby, server):
    mia = lobby["mia"]
    ok(act(lobby["moe"], "mute", room="lobby", user="mia", minutes=10))
    move_clock(server, 9 * 60)
    assert join(mia, "lobby")["room"]["muted_until"] is not None
    assert room_list(mia)["lobby"]["muted_until"] is not None
    move_clock(server, 61)  # ten minutes and a second after the mute
    assert join(mia, "lobby")["room"]["muted_until"] is None
    assert room_list(mia)["lobby"]["muted_until"] is None
    say(mia, "back by itself", room="lobby")


def test_a_ban_is_not_a_mute(lobby, server):
    ok(act(lobby["moe"], "ban", room="lobby", user="mia", minutes=10))
    assert room_list(lobby["mia"])["lobby"]["muted_until"] is None


# -- the audit log -----------------------------------------------------------------------------


def test_every_action_is_in_the_audit_log(lobby, app):
    olga, mo = lobby["olga"], lobby["moe"]
    ok(act(olga, "set_topic", room="lobby", topic="rules"))
    ok(act(mo, "kick", room="lobby", user="mia", reason="off topic"))
    ok(act(mo, "ban", room="lobby", user="max", minutes=60, reason="spam"))
    ok(act(mo, "unban", room="lobby", user="max"))
    ok(act(mo, "mute", room="lobby", user="mia", minutes=5))
    ok(act(mo, "unmute", room="lobby", user="mia"))
    ok(act(olga, "set_role", room="lobby", user="moe", role="member"))
    assert_error(act(lobby["mia"], "kick", room="lobby", user="max"), "forbidden")  # not logged
    rows = audit_rows(app)
    assert [(r["who"], r["what"], r["whom"], r["where"], r["reason"]) for r in rows] == [
        ("olga", "set_role", "moe", "lobby", None),  # the fixture's
        ("olga", "set_topic", None, "lobby", None),
        ("moe", "kick", "mia", "lobby", "off topic"),
        ("moe", "ban", "max", "lobby", "spam"),
        ("moe", "unban", "max", "lobby", None),
        ("moe", "mute", "mia", "lobby", None),
        ("moe", "unmute", "mia", "lobby", None),
        ("olga", "set_role", "moe", "lobby", None),
    ]
    assert rows[0]["details"] == {"role": "moderator"}
    assert rows[1]["details"] == {"topic": "rules"}
    assert rows[3]["details"]["minutes"] == 60 and rows[3]["details"]["until"]
    assert rows[5]["details"]["minutes"] == 5
    assert rows[-1]["details"] == {"role": "member"}
    assert all(isinstance(r["when"], datetime) for r in rows)
    assert user_id(app, "moe") and rows[2]["whom"] == "mia"
