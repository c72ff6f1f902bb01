"""Strangers are anonymous (docs/protocol.md, "Strangers are anonymous" and `find_partner`):
aliases instead of usernames in everything about a pair room, block and report by alias, no
`dm` by alias, no rematch for PAIR_REMATCH_SECONDS, and no `stranger-` usernames."""

import json
import re
import time

from tests.support.accounts import api_error, register, register_form
from tests.support.sockets import assert_error, call, events, ok, say, user_count

ALIAS = re.compile(r"stranger-[0-9a-f]{4}")
# Distinctive names: neither may appear, in any case, in anything the other one receives.
ZEB, QUIN = "Zebulon_Real", "Quincy_Real"


class Recorder:
    """One client's side of a chat: every ack it got and every event it received, kept."""

    def __init__(self, sio_client):
        self.sio_client = sio_client
        self.seen: list = []

    def call(self, event: str, payload: dict) -> dict:
        ack = call(self.sio_client, event, payload)
        self.seen.append(("ack", event, ack))
        return ack

    def drain(self) -> list:
        received = events(self.sio_client)
        self.seen.extend(received)
        return received

    def text(self) -> str:
        self.drain()
        return json.dumps(self.seen).casefold()


def test_a_strangers_username_never_reaches_the_partner(server_factory):
    server = server_factory(PRESENCE_COALESCE=0)
    zeb, quin = Recorder(server.connect(ZEB)), Recorder(server.connect(QUIN))
    zeb_tab = Recorder(server.connect(ZEB))

    assert ok(quin.call("find_partner", {}))["status"] == "waiting"
    paired = ok(zeb.call("find_partner", {}))
    room, quin_alias, zeb_alias = paired["room"], paired["partner"], paired["you"]
    assert ALIAS.fullmatch(quin_alias) and ALIAS.fullmatch(zeb_alias) and quin_alias != zeb_alias
    assert quin.drain() == [
        ("partner_found", {"room": room, "partner": zeb_alias, "you": quin_alias})
    ]

    joined = ok(quin.call("join", {"room": room}))
    assert joined["room"]["with"] == zeb_alias
    assert joined["members"] == sorted([zeb_alias, quin_alias])
    hello = say(zeb.sio_client, "hi, who are you?", room=room)
    assert hello["user"] == zeb_alias
    ok(zeb.call("typing", {"room": room, "typing": True}))
    reply = ok(quin.call("message", {"room": room, "text": "nobody you know"}))["message"]
    assert reply["user"] == quin_alias  # a client recognises its own messages by `you`
    received = quin.drain()
    assert ("message", hello) in received and ("message", reply) in received
    assert ("typing", {"room": room, "user": zeb_alias, "typing": True}) in received

    # presence: zeb's asking tab leaves the room (zeb is gone) and comes back
    ok(zeb.call("leave", {"room": room}))
    ok(zeb.call("join", {"room": room}))
    ok(zeb_tab.call("join", {"room": room, "since": 0}))
    assert [p for name, p in quin.drain() if name == "presence"] == [
        {"room": room, "user": zeb_alias, "status": "left"},
        {"room": room, "user": zeb_alias, "status": "joined"},
    ]
    history = ok(quin.call("history", {"room": room}))
    assert [m["user"] for m in history["messages"]] == [zeb_alias, quin_alias]
    again = ok(quin.call("join", {"room": room, "since": 0}))
    assert [m["user"] for m in again["messages"]] == [zeb_alias, quin_alias]
    ok(quin.call("typing", {"room": room, "typing": False}))

    ok(zeb.call("leave_partner", {}))
    assert ("partner_left", {"room": room}) in quin.drain()
    assert ok(quin.call("join", {"room": room}))["room"]["with"] == zeb_alias

    # the aliases are the same in every event and ack of the chat, and no name leaks
    assert "zebulon" not in quin.text()
    assert "quincy" not in zeb.text() + zeb_tab.text()
    for side in (quin.text(), zeb.text()):
        assert set(ALIAS.findall(side)) == {zeb_alias, quin_alias}


def test_aliases_differ_between_chats_of_the_same_two_users(server_factory):
    server = server_factory(PAIR_REMATCH_SECONDS=0, PARTNER_BURST=20)
    zeb, quin = server.connect(ZEB), server.connect(QUIN)
    seen = []
    for _ in range(3):
        assert ok(call(quin, "find_partner", {}))["status"] == "waiting"
        paired = ok(call(zeb, "find_partner", {}))
        seen.append((paired["room"], paired["partner"], paired["you"]))
        ok(call(zeb, "leave_partner", {}))
    assert len({room for room, _, _ in seen}) == 3
    # aliases are per chat: 4 hex digits each, so three chats give the same one by chance
    # with a probability of 1 in 2**32
    assert len({(partner, you) for _, partner, you in seen}) == 3


def test_block_by_the_alias_of_the_current_stranger_ends_the_chat(connect):
    zeb, quin = connect(ZEB), connect(QUIN)
    ok(call(quin, "find_partner", {}))
    paired = ok(call(zeb, "find_partner", {}))
    events(quin)
    assert ok(call(zeb, "block", {"user": paired["partner"].upper()})) == {"ok": True}
    assert events(quin, "partner_left") == [{"room": paired["room"]}]
    # blocked: never matched again, nor can either open a DM
    assert ok(call(quin, "find_partner", {}))["status"] == "waiting"
    assert ok(call(zeb, "find_partner", {}))["status"] == "waiting"
    assert_error(call(quin, "dm", {"user": ZEB}), "forbidden")


def test_block_by_the_alias_of_the_most_recent_stranger(connect):
    zeb, quin = connect(ZEB), connect(QUIN)
    ok(call(quin, "find_partner", {}))
    paired = ok(call(zeb, "find_partner", {}))
    ok(call(quin, "leave_partner", {}))
    assert ok(call(zeb, "block", {"user": paired["partner"]})) == {"ok": True}
    assert_error(call(zeb, "dm", {"user": QUIN}), "forbidden")
    # your own alias is you; an alias of nobody you met is nobody
    assert_error(call(zeb, "block", {"user": paired["you"]}), "invalid")
    other = "stranger-0000" if paired["partner"] != "stranger-0000" else "stranger-ffff"
    assert_error(call(zeb, "block", {"user": other}), "not_found")
    # a third user, who never met quin, cannot use that alias
    assert_error(call(connect("carol"), "block", {"user": paired["partner"]}), "not_found")


def test_dm_with_an_alias_is_not_found(connect):
    zeb, quin = connect(ZEB), connect(QUIN)
    ok(call(quin, "find_partner", {}))
    paired = ok(call(zeb, "find_partner", {}))
    error = assert_error(call(zeb, "dm", {"user": paired["partner"]}), "not_found")
    assert "quincy" not in error["message"].casefold()


def test_never_matched_again_within_the_window_whoever_waits(server_factory):
    server = server_factory(PAIR_REMATCH_SECONDS=0.6)
    zeb, quin = server.connect(ZEB), server.connect(QUIN)
    ok(call(quin, "find_partner", {}))
    first = ok(call(zeb, "find_partner", {}))["room"]
    # "Next": nobody else waits, and quin asks again: still no rematch
    assert ok(call(zeb, "find_partner", {}))["status"] == "waiting"
    assert ok(call(quin, "find_partner", {}))["status"] == "waiting"
    time.sleep(0.7)
    # the window is over: asking again (still waiting) matches them, in a new room
    again = ok(call(quin, "find_partner", {}))
    assert again["status"] == "paired" and again["room"] != first


def test_usernames_like_an_alias_are_refused(app, client):
    for name in ("stranger-4f2a", "Stranger-x", "STRANGER-"):
        error = api_error(register(client, name), 400, "invalid")
        assert "stranger-" in error["message"]
    page = register_form(client, "stranger-abcd")
    assert page.status_code == 400
    assert "cannot start with" in page.text
    assert user_count(app) == 0
    assert register(client, "strangers").status_code == 201  # only the prefix is taken
