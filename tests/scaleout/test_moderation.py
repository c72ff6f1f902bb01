"""Moderation across two server processes (one PostgreSQL, one Redis): a kick on one process
takes the user's connections on the other out of the room, and a ban or mute made on one is
enforced by the other at once."""

import pytest

from tests.support.chatter import Chatter, in_room

pytestmark = pytest.mark.timeout(60)


def test_kicks_bans_and_mutes_reach_connections_on_the_other_process(start_servers):
    a, b = start_servers(2)
    room = "xp-mod"
    olga = Chatter.on(a, "xp-m-olga")
    olga.join(room)  # created here: olga owns it
    max_ = Chatter.on(b, "xp-m-max")
    mia_a = Chatter.on(a, "xp-m-mia")
    mia_b = Chatter.on(b, "xp-m-mia")  # another tab of mia's, on the other process
    for chatter in (max_, mia_a, mia_b):
        chatter.join(room)

    # the topic set on A reaches everyone in the room on B
    assert olga.call("set_topic", {"room": room, "topic": "cross"}) == {"ok": True}
    for chatter in (max_, mia_b):
        assert chatter.wait("room_updated")[0]["room"]["topic"] == "cross"

    # a kick on A: both of mia's tabs are told, and leave, on both processes
    assert olga.call("kick", {"room": room, "user": "xp-m-mia"}) == {"ok": True}
    kicked = {"room": room, "by": "xp-m-olga", "reason": None, "banned": False, "until": None}
    assert mia_a.wait("kicked") == [kicked]
    assert mia_b.wait("kicked") == [kicked]
    left = {"room": room, "user": "xp-m-mia", "status": "left"}
    assert max_.wait("presence", where=lambda p: p == left) == [left]
    said = max_.say(room, "mia is out")
    assert olga.wait("message", where=in_room(room)) == [said]
    assert mia_b.received("message", where=in_room(room)) == []
    assert mia_a.received("message", where=in_room(room)) == []
    assert mia_b.call("message", {"room": room, "text": "hi"})["error"]["code"] == "not_in_room"

    # a mute on A holds for mia's tab on B, which stays in the room
    mia_b.join(room)
    assert olga.call("mute", {"room": room, "user": "xp-m-mia", "minutes": 5})["ok"]
    muted = mia_b.wait("muted")[0]
    assert muted["by"] == "xp-m-olga"
    # a reload on B learns the mute from join and rooms (read back from PostgreSQL)
    assert mia_b.call("join", {"room": room})["room"]["muted_until"] == muted["until"]
    listed = {entry["name"]: entry for entry in mia_b.call("rooms", {})["rooms"]}
    assert listed[room]["muted_until"] == muted["until"]
    assert listed["general"]["muted_until"] is None
    refused = mia_b.call("message", {"room": room, "text": "muted?"})
    assert refused["error"]["code"] == "forbidden", refused
    assert olga.call("unmute", {"room": room, "user": "xp-m-mia"}) == {"ok": True}
    assert mia_b.wait("unmuted") == [{"room": room}]
    mia_b.say(room, "free")

    # a ban on A: B refuses mia's join and posts at once
    assert olga.call("ban", {"room": room, "user": "xp-m-mia"}) == {"ok": True}
    assert mia_b.wait("kicked", count=2)[-1]["banned"] is True
    refused = mia_b.call("join", {"room": room})
    assert refused["error"]["code"] == "forbidden", refused
    assert "banned" in refused["error"]["message"]
    # the ban is listed on B too (read from PostgreSQL), and lifted from there
    max_.close()
    olga_b = Chatter.on(b, "xp-m-olga")
    listed = olga_b.call("sanctions", {"room": room})
    assert [(s["user"], s["kind"], s["by"], s["until"]) for s in listed["sanctions"]] == [
        ("xp-m-mia", "ban", "xp-m-olga", None)
    ], listed
    assert olga_b.call("unban", {"room": room, "user": "xp-m-mia"}) == {"ok": True}
    assert olga.call("sanctions", {"room": room}) == {"ok": True, "sanctions": []}
    assert mia_a.call("join", {"room": room})["ok"] is True
    for chatter in (olga, olga_b, mia_a, mia_b):
        chatter.close()
