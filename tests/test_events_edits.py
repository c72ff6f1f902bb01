"""edit, delete and react over the socket protocol (docs/protocol.md "Editing, deleting,
reacting, replying"): what the changer, the room and everyone else see, each refusal in its
order, permissions (author, others, moderators, owner, admin; mutes and bans), no-op retries
and the 20-emoji cap. Replies and private rooms: tests/test_events_replies.py."""

import pytest

from tests.support.sockets import (
    MESSAGE_KEYS,
    TS_RE,
    assert_error,
    assert_no_events,
    assert_still_works,
    call,
    drain,
    events,
    join,
    ok,
    say,
)
from tests.test_moderation import audit_rows, make_admin


def edit(sio_client, message_id, text, room="general") -> dict:
    return call(sio_client, "edit", {"room": room, "id": message_id, "text": text})


def delete(sio_client, message_id, room="general") -> dict:
    return call(sio_client, "delete", {"room": room, "id": message_id})


def react(sio_client, message_id, emoji, on=True, room="general") -> dict:
    return call(sio_client, "react", {"room": room, "id": message_id, "emoji": emoji, "on": on})


def changed(ack) -> dict:
    """The Message object of a successful edit, delete or react ack."""
    assert set(ok(ack)) == {"ok", "message"}, ack
    assert set(ack["message"]) == MESSAGE_KEYS, ack
    return ack["message"]


@pytest.fixture
def room(server):
    """alice (two tabs) and bob in general, carol in another room; alice said "hello" (id 1)."""
    people = {name: server.connect(name) for name in ("alice", "bob", "carol")}
    people["alice2"] = server.connect("alice")
    for name in ("alice", "alice2", "bob"):
        join(people[name])
    join(people["carol"], "elsewhere")
    people["first"] = say(people["alice"], "hello")
    drain(*(people[name] for name in ("alice", "alice2", "bob", "carol")))
    return people


# -- edit --------------------------------------------------------------------------------------


def test_an_edit_is_acked_and_sent_to_the_whole_room_with_the_new_state(room):
    alice, alice2, bob, carol = room["alice"], room["alice2"], room["bob"], room["carol"]
    first = room["first"]
    message = changed(edit(alice, 1, "  hello *world*  "))
    assert message["text"] == "hello *world*"  # trimmed, Markdown stored as written
    assert TS_RE.fullmatch(message["edited_at"])
    assert message["rev"] == first["rev"] + 1
    assert {key: message[key] for key in ("id", "user", "ts", "client_id", "deleted")} == {
        key: first[key] for key in ("id", "user", "ts", "client_id", "deleted")
    }
    for sio_client in (alice, alice2, bob):
        assert events(sio_client) == [("message_updated", message)]
    assert_no_events(carol)
    # history and a fresh join show the edited text
    assert ok(call(bob, "history", {"room": "general"}))["messages"] == [message]
    assert join(carol)["messages"] == [message]


def test_editing_to_the_same_text_changes_nothing_and_sends_nothing(room):
    alice, bob = room["alice"], room["bob"]
    assert changed(edit(alice, 1, "hello ")) == room["first"]
    assert_no_events(alice, bob)
    message = changed(edit(alice, 1, "bye"))
    drain(alice, bob)
    assert changed(edit(alice, 1, "bye")) == message  # a retry after a lost ack
    assert_no_events(alice, bob)


@pytest.mark.parametrize(
    "payload",
    [
        {"room": "general", "id": 1},
        {"room": "general", "text": "x"},
        {"room": "general", "id": "1", "text": "x"},
        {"room": "general", "id": 0, "text": "x"},
        {"room": "general", "id": 2**53 + 1, "text": "x"},
        {"room": "general", "id": True, "text": "x"},
        {"room": "general", "id": 1, "text": None},
        {"room": "general", "id": 1, "text": 5},
        {"room": "Not A Room", "id": 1, "text": "x"},
        {"id": 1, "text": "x"},
    ],
)
def test_malformed_edits_are_invalid(room, payload):
    assert_error(call(room["alice"], "edit", payload), "invalid")
    assert_still_works(room["alice"])
    assert_no_events(room["bob"])


def test_edit_refusals_in_the_protocols_order(room):
    alice, bob, carol = room["alice"], room["bob"], room["carol"]
    say(bob, "bob's")  # id 2
    assert_error(edit(carol, 1, "x"), "not_in_room")
    assert_error(edit(alice, 99, ""), "not_found")  # existence before the text rules
    assert_error(edit(alice, 2, ""), "forbidden")  # permission before the text rules
    assert_error(edit(alice, 2, "mine now"), "forbidden")
    assert_error(edit(alice, 1, "   "), "invalid")
    assert_error(edit(alice, 1, "a\x00b"), "invalid")
    assert_error(edit(alice, 1, "x" * 4001), "too_large")
    assert changed(edit(alice, 1, "x" * 4000))["text"] == "x" * 4000
    ok(delete(alice, 1))
    assert_error(edit(alice, 1, "back from the dead"), "not_found")
    assert_still_works(alice)


def test_moderators_owners_and_admins_cannot_edit_others_messages(server):
    owner, mod, admin, mia = (server.connect(name) for name in ("olga", "moe", "ada", "mia"))
    make_admin(server.app, "ada")
    join(owner, "lobby")
    for sio_client in (mod, admin, mia):
        join(sio_client, "lobby")
    ok(call(owner, "set_role", {"room": "lobby", "user": "moe", "role": "moderator"}))
    said = say(mia, "typo", room="lobby")
    for sio_client in (owner, mod, admin):
        assert_error(edit(sio_client, said["id"], "fixed", room="lobby"), "forbidden")


# -- delete ------------------------------------------------------------------------------------


def test_the_author_deletes_a_message_which_becomes_a_tombstone(room):
    alice, alice2, bob, carol = room["alice"], room["alice2"], room["bob"], room["carol"]
    ok(react(bob, 1, "👍"))
    edited = changed(edit(alice, 1, "hello again"))
    drain(alice, alice2, bob)
    tombstone = changed(delete(alice, 1))
    assert tombstone == {
        **edited,
        "text": "",
        "deleted": True,
        "reactions": {},
        "rev": edited["rev"] + 1,
    }
    for sio_client in (alice, alice2, bob):
        assert events(sio_client) == [("message_updated", tombstone)]
    assert_no_events(carol)
    # again: a retry gets the tombstone and nothing is sent
    assert changed(delete(alice, 1)) == tombstone
    assert_no_events(alice, bob)
    # ids stay gapless: history keeps the tombstone in its place
    after = say(bob, "still here")
    history = ok(call(carol, "history", {"room": "general"}))["messages"]
    assert history == [tombstone, after]
    assert_error(react(bob, 1, "👍"), "not_found")


def test_delete_refusals(room):
    alice, bob, carol = room["alice"], room["bob"], room["carol"]
    assert_error(delete(carol, 1), "not_in_room")
    assert_error(delete(alice, 2), "not_found")
    assert_error(delete(bob, 1), "forbidden")
    assert_error(call(alice, "delete", {"room": "general", "id": 0}), "invalid")
    assert_error(call(alice, "delete", {"room": "general"}), "invalid")
    assert_no_events(alice, bob)
    assert join(carol)["messages"] == [room["first"]]


@pytest.mark.parametrize("deleter", ["olga", "moe", "ada"])
def test_the_rooms_staff_delete_anyones_message_and_it_is_audited(server, deleter):
    people = {name: server.connect(name) for name in ("olga", "moe", "ada", "mia")}
    make_admin(server.app, "ada")
    join(people["olga"], "lobby")
    for name in ("moe", "ada", "mia"):
        join(people[name], "lobby")
    ok(call(people["olga"], "set_role", {"room": "lobby", "user": "moe", "role": "moderator"}))
    said = say(people["mia"], "spam", room="lobby")
    drain(*people.values())
    tombstone = changed(delete(people[deleter], said["id"], room="lobby"))
    assert tombstone["deleted"] is True and tombstone["user"] == "mia"
    assert events(people["mia"]) == [("message_updated", tombstone)]
    entry = audit_rows(server.app)[-1]
    assert (entry["who"], entry["what"], entry["whom"], entry["where"]) == (
        deleter,
        "delete_message",
        "mia",
        "lobby",
    )
    assert entry["details"] == {"id": said["id"]}
    # a member may not; deleting your own is not audited
    own = say(people["mia"], "mine", room="lobby")
    other = say(people[deleter], "staff's", room="lobby")
    assert_error(delete(people["mia"], other["id"], room="lobby"), "forbidden")
    ok(delete(people["mia"], own["id"], room="lobby"))
    assert audit_rows(server.app)[-1] == entry


# -- react -------------------------------------------------------------------------------------


def test_reactions_are_added_and_removed_idempotently_and_sent_to_the_room(room):
    alice, alice2, bob, carol = room["alice"], room["alice2"], room["bob"], room["carol"]
    first = room["first"]
    added = changed(react(bob, 1, "👍"))
    assert added["reactions"] == {"👍": ["bob"]}
    assert added["rev"] == first["rev"] + 1
    for sio_client in (alice, alice2, bob):
        assert events(sio_client) == [("message_updated", added)]
    assert changed(react(bob, 1, "👍")) == added  # already there: nothing changes
    assert_no_events(alice, bob, carol)
    # emoji in the order first used, users sorted ignoring case
    changed(react(alice, 1, "🎉"))
    both = changed(react(alice, 1, "👍"))
    assert both["reactions"] == {"👍": ["alice", "bob"], "🎉": ["alice"]}
    assert list(both["reactions"]) == ["👍", "🎉"]
    removed = changed(react(alice, 1, "🎉", on=False))
    assert removed["reactions"] == {"👍": ["alice", "bob"]}
    drain(alice, alice2, bob)
    assert changed(react(alice, 1, "🎉", on=False)) == removed  # already gone
    assert_no_events(alice, bob)
    assert join(carol)["messages"][0] == removed


def test_reacting_users_are_sorted_ignoring_case(server):
    people = [server.connect(name) for name in ("Zed", "amy", "Bob")]
    for sio_client in people:
        join(sio_client)
    said = say(people[0], "vote")
    for sio_client in people:
        last = changed(react(sio_client, said["id"], "+1"))
    assert last["reactions"] == {"+1": ["amy", "Bob", "Zed"]}


@pytest.mark.parametrize(
    "emoji",
    ["", "x" * 33, "a b", "👍\n", "\t", "\x07", "\u202e👍", "👍\u200f", "\u2066", "\ud83d"],
)
def test_bad_emoji_are_invalid(room, emoji):
    assert_error(react(room["bob"], 1, emoji), "invalid")
    assert_no_events(room["alice"])


def test_emoji_rules_come_after_existence(room):
    assert_error(react(room["bob"], 99, ""), "not_found")
    assert_error(call(room["bob"], "react", {"room": "general", "id": 1, "emoji": "👍"}), "invalid")
    assert_error(
        call(room["bob"], "react", {"room": "general", "id": 1, "emoji": "👍", "on": 1}), "invalid"
    )


def test_any_emoji_string_is_accepted(room):
    family = "👨\u200d👩\u200d👧"
    message = changed(react(room["bob"], 1, family))
    assert message["reactions"] == {family: ["bob"]}
    assert changed(react(room["bob"], 1, "y" * 32))["reactions"]["y" * 32] == ["bob"]


def test_at_most_20_distinct_emoji_on_a_message(server_factory):
    server = server_factory(REACT_BURST=1000, REACT_RATE=1000.0, EVENT_BURST=1000)
    alice, bob = server.connect("alice"), server.connect("bob")
    join(alice)
    join(bob)
    said = say(alice, "react to me")
    for number in range(20):
        last = changed(react(alice, said["id"], f"e{number}"))
    assert list(last["reactions"]) == [f"e{number}" for number in range(20)]
    drain(alice, bob)
    assert_error(react(alice, said["id"], "e20"), "invalid")
    assert_error(react(bob, said["id"], "e20"), "invalid")
    assert_no_events(alice, bob)
    # joining an emoji already there, and removing, are always possible
    assert changed(react(bob, said["id"], "e3"))["reactions"]["e3"] == ["alice", "bob"]
    changed(react(alice, said["id"], "e0", on=False))
    changed(react(bob, said["id"], "e20"))
    assert len(changed(react(bob, said["id"], "e1"))["reactions"]) == 20


def test_react_has_its_own_budget(server_factory):
    server = server_factory(REACT_BURST=2, REACT_RATE=0.001)
    alice = server.connect("alice")
    join(alice)
    said = say(alice, "x")
    ok(react(alice, said["id"], "a"))
    ok(react(alice, said["id"], "b"))
    refused = assert_error(react(alice, said["id"], "c"), "rate_limited")
    assert refused["retry_after"] > 0
    ok(edit(alice, said["id"], "still fine"))  # edits draw on the message bucket


def test_edit_and_delete_draw_on_the_message_budget(server_factory):
    server = server_factory(MESSAGE_BURST=2, MESSAGE_RATE=0.001)
    alice = server.connect("alice")
    join(alice)
    said = say(alice, "x")
    ok(edit(alice, said["id"], "y"))
    assert_error(delete(alice, said["id"]), "rate_limited")
    assert_error(edit(alice, 99, "y"), "rate_limited")  # charged before its own rules


def quoted_by(server, replies: int, room="general"):
    """alice's message (id 1), quoted by `replies` replies from others (each user posts at
    most two: their own message budget is small too); a listener in the room."""
    alice, listener = server.connect("alice"), server.connect("listener")
    join(alice, room)
    join(listener, room)
    quoted = say(alice, "the announcement", room=room)
    for n in range(replies):
        if n % 2 == 0:
            author = server.connect(f"replier{n // 2}")
            join(author, room)
        ok(call(author, "message", {"room": room, "text": f"re {n}", "reply_to": quoted["id"]}))
    drain(alice, listener)
    return alice, listener, quoted


def test_an_edit_pays_one_token_more_per_ten_replies_whose_quote_it_changes(server_factory):
    server = server_factory(MESSAGE_BURST=4, MESSAGE_RATE=0.001)
    alice, listener, quoted = quoted_by(server, 20)  # alice has 3 tokens left
    edited = changed(edit(alice, quoted["id"], "the announcement, fixed"))
    assert edited["text"] == "the announcement, fixed"
    updates = events(listener, "message_updated")
    assert [m["id"] for m in updates] == [1, *range(2, 22)]
    assert all(m["reply_to"]["text"] == "the announcement, fixed" for m in updates[1:])
    # 1 + 2 tokens: her bucket is empty now
    assert_error(call(alice, "message", {"room": "general", "text": "x"}), "rate_limited")


def test_a_message_quoted_by_more_replies_than_a_burst_pays_for_cannot_be_edited(server_factory):
    server = server_factory(MESSAGE_BURST=2, MESSAGE_RATE=0.001)
    alice, listener, quoted = quoted_by(server, 11)  # 1 + 2 tokens > a burst of 2
    assert_error(edit(alice, quoted["id"], "changed"), "forbidden")
    assert_no_events(listener)


# -- mutes and bans --------------------------------------------------------------------------


def test_a_muted_user_may_not_edit_or_react_but_may_delete_their_own(server):
    olga, mia = server.connect("olga"), server.connect("mia")
    join(olga, "lobby")
    join(mia, "lobby")
    mine = say(mia, "before the mute", room="lobby")
    hers = say(olga, "the owner's", room="lobby")
    ok(call(olga, "mute", {"room": "lobby", "user": "mia", "minutes": 5}))
    drain(olga, mia)
    for ack in (
        edit(mia, mine["id"], "after", room="lobby"),
        edit(mia, mine["id"], "", room="lobby"),  # the mute before the text rules
        react(mia, hers["id"], "👍", room="lobby"),
        react(mia, hers["id"], "a b", room="lobby"),
    ):
        assert "muted" in assert_error(ack, "forbidden")["message"]
    assert_no_events(olga)
    assert changed(delete(mia, mine["id"], room="lobby"))["deleted"] is True
    assert_error(delete(mia, hers["id"], room="lobby"), "forbidden")


def test_a_banned_user_may_not_edit_delete_or_react(server):
    olga, mia = server.connect("olga"), server.connect("mia")
    join(olga, "lobby")
    join(mia, "lobby")
    mine = say(mia, "before the ban", room="lobby")
    ok(call(olga, "ban", {"room": "lobby", "user": "mia"}))
    drain(olga, mia)
    for ack in (
        edit(mia, mine["id"], "after", room="lobby"),
        delete(mia, mine["id"], room="lobby"),
        react(mia, mine["id"], "👍", room="lobby"),
    ):
        assert "banned" in assert_error(ack, "forbidden")["message"]
    assert_no_events(olga)
