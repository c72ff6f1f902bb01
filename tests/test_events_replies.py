"""Replies (`reply_to` on `message` and the HTTP API) and changes in private rooms
(docs/protocol.md "Editing, deleting, reacting, replying"): the quote follows the quoted
message's edits and deletion with a rev and a `message_updated` of its own; DMs with a block
and ended stranger chats refuse changes; a stranger chat shows aliases everywhere."""

import pytest

from tests.support.accounts import api_error
from tests.support.sockets import (
    assert_error,
    assert_no_events,
    call,
    drain,
    events,
    join,
    ok,
    say,
)
from tests.test_events_edits import changed, delete, edit, react
from tests.test_integration_api import post, posted
from tests.test_private import block, dm_name, leave_partner, open_dm, pair_up


@pytest.fixture
def chat(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    join(alice)
    join(bob)
    return alice, bob


def test_a_reply_quotes_the_message_it_answers(chat):
    alice, bob = chat
    first = say(alice, "question?")
    drain(alice, bob)
    reply = say(bob, "answer", reply_to=first["id"])
    assert reply["reply_to"] == {"id": 1, "user": "alice", "text": "question?", "deleted": False}
    assert reply["rev"] == first["rev"] + 1
    assert events(alice, "message") == [reply]
    assert ok(call(alice, "history", {"room": "general"}))["messages"] == [first, reply]


def test_the_quote_is_cut_to_200_characters(chat):
    alice, bob = chat
    long = say(alice, "é" * 150 + "😀" * 100)
    reply = say(bob, "tl;dr", reply_to=long["id"])
    assert reply["reply_to"]["text"] == "é" * 150 + "😀" * 50
    assert len(reply["reply_to"]["text"]) == 200


def test_a_reply_to_a_missing_or_deleted_message_is_not_found_and_stores_nothing(chat):
    alice, bob = chat
    first = say(alice, "soon gone")
    ok(delete(alice, first["id"]))
    drain(alice, bob)
    for reply_to in (first["id"], 2, 99):
        ack = call(bob, "message", {"room": "general", "text": "hm", "reply_to": reply_to})
        assert_error(ack, "not_found")
    for reply_to in (0, -1, "1", 2**53 + 1, 1.5):
        ack = call(bob, "message", {"room": "general", "text": "hm", "reply_to": reply_to})
        assert_error(ack, "invalid")
    assert_no_events(alice, bob)
    assert say(bob, "next")["id"] == first["id"] + 1  # nothing was stored: no gap


def test_a_retry_is_answered_before_its_reply_to_is_looked_at(chat):
    alice, bob = chat
    first = say(alice, "quoted")
    reply = say(bob, "quoting", reply_to=first["id"], client_id="r-1")
    ok(delete(alice, first["id"]))
    drain(alice, bob)
    again = ok(
        call(
            bob,
            "message",
            {"room": "general", "text": "quoting", "reply_to": first["id"], "client_id": "r-1"},
        )
    )["message"]
    # the original, in its current state: its quote now says the quoted message is gone
    assert again["id"] == reply["id"] and again["client_id"] == "r-1"
    assert again["reply_to"] == {"id": first["id"], "user": "alice", "text": "", "deleted": True}
    assert_no_events(alice, bob)


def test_editing_and_deleting_the_quoted_message_changes_each_reply_in_turn(chat, connect):
    alice, bob = chat
    carol = connect("carol")
    join(carol)
    first = say(alice, "v1")
    replies = [say(bob, "re 1", reply_to=1), say(carol, "re 2", reply_to=1)]
    unrelated = say(bob, "unrelated")
    drain(alice, bob, carol)

    edited = changed(edit(alice, first["id"], "v2"))
    sent = events(carol, "message_updated")
    assert sent[0] == edited
    assert [(m["id"], m["rev"]) for m in sent[1:]] == [
        (replies[0]["id"], edited["rev"] + 1),
        (replies[1]["id"], edited["rev"] + 2),
    ]
    for update, reply in zip(sent[1:], replies, strict=True):
        assert update == {
            **reply,
            "reply_to": {**reply["reply_to"], "text": "v2"},
            "rev": update["rev"],
        }
    drain(alice, bob)

    # a deleted reply no longer quotes: only the live one changes on the next delete
    ok(delete(carol, replies[1]["id"]))
    drain(alice, bob, carol)
    tombstone = changed(delete(alice, first["id"]))
    sent = events(bob, "message_updated")
    assert sent[0] == tombstone
    assert len(sent) == 2 and sent[1]["id"] == replies[0]["id"]
    assert sent[1]["reply_to"] == {"id": 1, "user": "alice", "text": "", "deleted": True}
    assert sent[1]["rev"] == tombstone["rev"] + 1
    history = ok(call(carol, "history", {"room": "general"}))["messages"]
    assert history[0] == tombstone and history[1] == sent[1]
    assert history[3] == unrelated  # untouched, same rev


def test_the_http_api_posts_replies(server, chat):
    alice, bob = chat
    first = say(alice, "deploy?")
    http = server.app.test_client()
    token = server.token("bot")
    reply = posted(post(http, token, json={"text": "deployed", "reply_to": first["id"]}))
    assert reply["reply_to"] == {"id": 1, "user": "alice", "text": "deploy?", "deleted": False}
    assert events(bob, "message")[-1] == reply
    api_error(post(http, token, json={"text": "x", "reply_to": 99}), 404, "not_found")
    api_error(post(http, token, json={"text": "x", "reply_to": "1"}), 400, "invalid")
    api_error(post(http, token, json={"text": "x", "reply_to": 0}), 400, "invalid")


# -- private rooms -------------------------------------------------------------------------


def test_changes_in_a_dm_work_until_one_blocks_the_other(server, app):
    alice, bob = server.connect("alice"), server.connect("bob")
    room = dm_name(app, "alice", "bob")
    open_dm(alice, "bob")
    join(bob, room)
    said = say(alice, "hi", room=room)
    ok(react(bob, said["id"], "👋", room=room))
    ok(edit(alice, said["id"], "hi!", room=room))
    block(bob, "alice")
    drain(alice, bob)
    assert_error(edit(alice, said["id"], "hello?", room=room), "forbidden")
    assert_error(react(alice, said["id"], "😢", room=room), "forbidden")
    assert_error(delete(alice, said["id"], room=room), "forbidden")
    assert_error(react(bob, said["id"], "👋", on=False, room=room), "forbidden")
    assert_no_events(alice, bob)


def test_an_outsider_gets_forbidden_for_changes_in_a_private_room(server, app):
    alice, bob, carol = (server.connect(name) for name in ("alice", "bob", "carol"))
    room = dm_name(app, "alice", "bob")
    open_dm(alice, "bob")
    say(alice, "private", room=room)
    for ack in (edit(carol, 1, "x", room=room), delete(carol, 1, room=room)):
        assert_error(ack, "forbidden")
    assert_error(react(carol, 1, "👀", room=room), "forbidden")
    assert_error(delete(bob, 1, room=room), "not_in_room")  # a member, not joined


def test_a_stranger_chat_shows_aliases_in_quotes_and_reactions_and_closes_when_it_ends(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    room = pair_up(alice, "alice", bob, "bob")
    said = say(alice, "hello stranger", room=room)
    you = said["user"]
    assert you.startswith("stranger-")
    reply = say(bob, "hi", room=room, reply_to=said["id"])
    partner = reply["user"]
    assert reply["reply_to"]["user"] == you
    reacted = changed(react(bob, said["id"], "👋", room=room))
    assert reacted["reactions"] == {"👋": [partner]}
    both = changed(react(alice, said["id"], "👋", room=room))
    assert both["reactions"] == {"👋": sorted([you, partner])}
    drain(alice, bob)
    edited = changed(edit(alice, said["id"], "hello again", room=room))
    updates = events(bob, "message_updated")
    assert updates[0] == edited
    assert updates[1]["reply_to"] == {
        "id": said["id"],
        "user": you,
        "text": "hello again",
        "deleted": False,
    }
    for payload in (edited, *updates, *ok(call(bob, "history", {"room": room}))["messages"]):
        assert "alice" not in str(payload) and "bob" not in str(payload), payload
    leave_partner(alice)
    drain(alice, bob)
    assert_error(edit(alice, said["id"], "bye", room=room), "forbidden")
    assert_error(react(bob, said["id"], "😢", room=room), "forbidden")
    assert_error(delete(alice, said["id"], room=room), "forbidden")
    assert_no_events(alice, bob)
