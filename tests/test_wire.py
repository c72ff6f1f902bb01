"""The wire forms of app/wire.py against docs/protocol.md (the contract), and the one
choke point in app/broadcast.py every server->client event is sent through."""

import re
import typing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from app import wire
from app.broadcast import SocketIOBroadcaster, channel
from app.domain import models

PROTOCOL = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
MESSAGE = models.Message(
    7, "general", "alice", "hi", datetime(2026, 11, 22, 15, 4, 5, 123456), "c-1"
)
GENERAL = models.Room(1, "general", "Say hello", False, 7)
DM = models.Room(2, "dm:3-7", "", True, None)
MUTE_END = datetime(2026, 12, 2, 10, 0, 0, 250000)


def test_a_message_has_exactly_the_protocols_fields():
    assert wire.message(MESSAGE) == {
        "id": 7,
        "room": "general",
        "user": "alice",
        "text": "hi",
        "ts": "2026-11-22T15:04:05.123Z",
        "client_id": "c-1",
        "reply_to": None,
        "edited_at": None,
        "deleted": False,
        "reactions": {},
        "rev": 0,
    }
    assert wire.message_ack(MESSAGE) == {"message": wire.message(MESSAGE)}


def test_an_edited_reply_with_reactions_has_its_quote_and_reactions_in_order():
    changed = models.Message(
        8,
        "general",
        "bob",
        "**yes**",
        datetime(2026, 11, 22, 15, 4, 6),
        None,
        reply_to=models.ReplyQuote(7, "alice", "", deleted=True),
        edited_at=datetime(2026, 12, 2, 10, 0, 0, 999999),
        reactions=(("🎉", ("carol",)), ("👍", ("alice", "Bob"))),
        rev=57,
    )
    assert wire.message(changed) == {
        "id": 8,
        "room": "general",
        "user": "bob",
        "text": "**yes**",
        "ts": "2026-11-22T15:04:06.000Z",
        "client_id": None,
        "reply_to": {"id": 7, "user": "alice", "text": "", "deleted": True},
        "edited_at": "2026-12-02T10:00:00.999Z",
        "deleted": False,
        "reactions": {"🎉": ["carol"], "👍": ["alice", "Bob"]},
        "rev": 57,
    }
    assert list(wire.message(changed)["reactions"]) == ["🎉", "👍"]


def test_timestamps_are_utc_with_milliseconds():
    plus_two = timezone(timedelta(hours=2))
    assert wire.format_timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"
    aware = datetime(2026, 1, 2, 5, 4, 5, 999999, tzinfo=plus_two)
    assert wire.format_timestamp(aware) == "2026-01-02T03:04:05.999Z"
    assert wire.format_timestamp(aware.astimezone(UTC)) == "2026-01-02T03:04:05.999Z"


def test_a_rooms_page_lists_with_only_for_dms():
    page = models.RoomsPage(
        [
            models.ListedRoom(GENERAL, 3, None, "olga", ("carol", "Dan"), "member", MUTE_END),
            models.ListedRoom(DM, 1, "bob"),
        ],
        next_after="general",
    )
    assert wire.rooms_ack(page) == {
        "rooms": [
            {
                "name": "general",
                "topic": "Say hello",
                "online": 3,
                "last_message_id": 7,
                "kind": "public",
                "owner": "olga",
                "moderators": ["carol", "Dan"],
                "role": "member",
                # the viewer is muted there: until when, as a Message's ts
                "muted_until": "2026-12-02T10:00:00.250Z",
            },
            {
                "name": "dm:3-7",
                "topic": "",
                "online": 1,
                "last_message_id": None,
                "kind": "dm",
                "with": "bob",
                "owner": None,
                "moderators": [],
                "role": "member",
                "muted_until": None,
            },
        ],
        "next": "general",
    }


def test_a_joined_rooms_object_by_kind():
    public = models.RoomSummary(
        "general", "Say hello", "public", False, owner=None, moderators=("carol",), role="owner"
    )
    assert wire.room(public) == {
        "name": "general",
        "topic": "Say hello",
        "kind": "public",
        "owner": None,
        "moderators": ["carol"],
        "role": "owner",
        "muted_until": None,
    }
    muted = models.RoomSummary("general", "Say hello", "public", False, muted_until=MUTE_END)
    assert wire.room(muted)["muted_until"] == "2026-12-02T10:00:00.250Z"
    dm = models.RoomSummary("dm:3-7", "", "dm", True, "bob")
    assert wire.room(dm) == {
        "name": "dm:3-7",
        "topic": "",
        "kind": "dm",
        "with": "bob",
        "owner": None,
        "moderators": [],
        "role": "member",
        "muted_until": None,
    }
    # a private room whose other member is gone still says `with`, as null
    alone = models.RoomSummary("dm:3-7", "", "dm", True, None)
    assert wire.room(alone)["with"] is None
    ended = models.RoomSummary("pair:ab", "", "pair", True, "cat", active=False)
    assert wire.room(ended) == {
        "name": "pair:ab",
        "topic": "",
        "kind": "pair",
        "with": "cat",
        "active": False,
        "owner": None,
        "moderators": [],
        "role": "member",
        "muted_until": None,
    }


def test_join_and_history_acks():
    summary = models.RoomSummary("general", "Say hello", "public", False)
    result = models.JoinResult(summary, ["alice", "bob"], [MESSAGE], has_more=True)
    assert wire.join_ack(result) == {
        "room": {**wire.room(summary), "rev": 0},
        "members": ["alice", "bob"],
        "messages": [wire.message(MESSAGE)],
        "has_more": True,
        "updates": [],
        "updates_truncated": False,
    }
    edited = models.Message(3, "general", "bob", "fixed", MESSAGE.ts, None, rev=9)
    caught_up = models.JoinResult(
        summary, [], [], False, updates=[edited], updates_truncated=True, rev=12
    )
    ack = wire.join_ack(caught_up)
    assert ack["room"]["rev"] == 12
    assert ack["updates"] == [wire.message(edited)]
    assert ack["updates_truncated"] is True
    assert wire.history_ack([MESSAGE], False) == {
        "messages": [wire.message(MESSAGE)],
        "has_more": False,
    }


def test_find_partner_acks():
    assert wire.find_partner_ack(None) == {"status": "waiting"}
    found = models.PartnerFound("pair:ab", "stranger-4f2a", "stranger-91c0")
    assert wire.find_partner_ack(found) == {
        "status": "paired",
        "room": "pair:ab",
        "partner": "stranger-4f2a",
        "you": "stranger-91c0",
    }


def test_every_broadcast_has_its_name_and_fields():
    assert wire.event(models.PresenceChanged("general", "bob", "joined")) == (
        "presence",
        {"room": "general", "user": "bob", "status": "joined"},
    )
    assert wire.event(models.TypingChanged("general", "bob", True)) == (
        "typing",
        {"room": "general", "user": "bob", "typing": True},
    )
    assert wire.event(models.DmOpened("dm:3-7", "alice")) == (
        "dm_opened",
        {"room": "dm:3-7", "user": "alice"},
    )
    assert wire.event(models.PartnerFound("pair:ab", "stranger-4f2a", "stranger-91c0")) == (
        "partner_found",
        {"room": "pair:ab", "partner": "stranger-4f2a", "you": "stranger-91c0"},
    )
    assert wire.event(models.PartnerLeft("pair:ab")) == ("partner_left", {"room": "pair:ab"})
    assert wire.event(models.AccountSuspended()) == ("account_suspended", {})


def test_the_moderation_events_have_the_protocols_fields():
    summary = models.RoomSummary(
        "lobby",
        "Be nice",
        "public",
        False,
        owner="olga",
        moderators=("carol",),
        role="owner",
        muted_until=MUTE_END,
    )
    # room_updated goes to everyone in the room: no one's role or mute in it
    assert wire.event(models.RoomUpdated(summary)) == (
        "room_updated",
        {
            "room": {
                "name": "lobby",
                "topic": "Be nice",
                "kind": "public",
                "owner": "olga",
                "moderators": ["carol"],
            }
        },
    )
    assert wire.event(models.Kicked("lobby", "carol", None)) == (
        "kicked",
        {"room": "lobby", "by": "carol", "reason": None, "banned": False, "until": None},
    )
    until = datetime(2026, 12, 2, 10, 0, 0)
    assert wire.event(models.Kicked("lobby", "carol", "spam", banned=True, until=until)) == (
        "kicked",
        {
            "room": "lobby",
            "by": "carol",
            "reason": "spam",
            "banned": True,
            "until": "2026-12-02T10:00:00.000Z",
        },
    )
    assert wire.event(models.Muted("lobby", "carol", until, None)) == (
        "muted",
        {"room": "lobby", "by": "carol", "until": "2026-12-02T10:00:00.000Z", "reason": None},
    )
    assert wire.event(models.Unmuted("lobby")) == ("unmuted", {"room": "lobby"})


def test_a_sanctions_ack_lists_each_with_the_protocols_fields():
    at = datetime(2026, 12, 2, 9, 0, 0, 999999)
    listed = [
        models.ListedSanction("mia", "ban", None, None, None, at),
        models.ListedSanction("max", "mute", MUTE_END, "spam", "carol", at),
    ]
    assert wire.sanctions_ack(listed) == {
        "sanctions": [
            {
                "user": "mia",
                "kind": "ban",
                "until": None,
                "reason": None,
                "by": None,
                "at": "2026-12-02T09:00:00.999Z",
            },
            {
                "user": "max",
                "kind": "mute",
                "until": "2026-12-02T10:00:00.250Z",
                "reason": "spam",
                "by": "carol",
                "at": "2026-12-02T09:00:00.999Z",
            },
        ]
    }
    assert wire.sanctions_ack([]) == {"sanctions": []}


def test_the_server_events_are_the_ones_the_protocol_lists():
    kinds = set(typing.get_args(models.RoomChange)) | set(typing.get_args(models.Notice))
    assert set(wire.BROADCASTS) == kinds
    section = PROTOCOL.read_text().split("## Server → client events", 1)[1].split("\n## ")[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    sent = {"message", "message_updated"} | {name for name, _ in wire.BROADCASTS.values()}
    assert documented == sent


class RecordingSocketIO:
    """Stands in for Flask-SocketIO's emit."""

    def __init__(self):
        self.emitted: list[tuple] = []

    def emit(self, event, data, **kwargs):
        self.emitted.append((event, data, kwargs))


def test_the_broadcaster_sends_each_payload_once_built():
    socketio = RecordingSocketIO()
    broadcaster = SocketIOBroadcaster(socketio)
    broadcaster.message(MESSAGE)
    broadcaster.to_room(models.TypingChanged("general", "bob", False), ["b1", "b2"])
    broadcaster.to_room(models.PresenceChanged("general", "bob", "left"), [])
    broadcaster.notify(["a1", "a2"], models.PartnerLeft("pair:ab"))
    first, typing_, presence, *notices = socketio.emitted
    assert first == (
        "message",
        wire.message(MESSAGE),
        {"to": channel("general"), "namespace": "/", "skip_sid": None},
    )
    assert typing_[0] == "typing" and typing_[2]["skip_sid"] == ["b1", "b2"]
    assert presence[0] == "presence" and presence[2]["skip_sid"] is None
    assert [(name, kwargs["to"]) for name, _, kwargs in notices] == [
        ("partner_left", "a1"),
        ("partner_left", "a2"),
    ]
    # one payload for every recipient, not a copy each
    assert notices[0][1] is notices[1][1]
