"""Edits, deletes, reactions and revisions in the domain (no Flask): what is broadcast, what
`join` tells the broadcaster it covered, and the read-backs a process uses to fill a gap
(`changes` by rev, `between`), by alias in stranger chats."""

from app.domain.errors import ChatError


def refusal(fn, *args) -> ChatError:
    try:
        fn(*args)
    except ChatError as error:
        return error
    raise AssertionError(f"{fn.__name__}{args} was not refused")


def test_changes_are_broadcast_target_first_and_read_back_by_rev(
    chat, connected, clock, broadcaster
):
    connected("s1", "alice")
    connected("s2", "bob")
    chat.rooms.join("s1", "a")
    chat.rooms.join("s2", "a")
    first = chat.messages.post("s1", "a", "one")
    clock.now += 10
    reply = chat.messages.post("s2", "a", "two", reply_to=first.id)
    clock.now += 10
    other = chat.messages.post("s2", "a", "three")
    broadcaster.sent.clear()

    edited = chat.messages.edit("s1", "a", first.id, "one!")
    assert broadcaster.sent == [
        ("message_updated", "a", first.id, edited.rev),
        ("message_updated", "a", reply.id, edited.rev + 1),
    ]
    reacted = chat.messages.react("s2", "a", other.id, "👍", True)
    assert reacted.reactions == (("👍", ("bob",)),)
    assert reacted.rev == edited.rev + 2

    # everything after rev 2 (the reply's first state): current states, ascending rev
    changes = chat.messages.changes("a", 2, reacted.rev)
    assert [(m.id, m.rev) for m in changes] == [
        (first.id, edited.rev),
        (reply.id, edited.rev + 1),
        (other.id, reacted.rev),
    ]
    assert changes[1].reply_to.text == "one!"
    assert [m.id for m in chat.messages.changes("a", edited.rev, edited.rev + 1)] == [reply.id]
    assert chat.messages.changes("a", 5, 5) == [] and chat.messages.changes("nope", 0, 9) == []
    assert [m.id for m in chat.messages.between("a", 1, 3)] == [2, 3]


def test_join_reports_the_room_rev_it_covers(chat, connected, clock, broadcaster):
    connected("s1", "alice")
    connected("s2", "bob")
    chat.rooms.join("s1", "a")
    said = chat.messages.post("s1", "a", "x")
    chat.messages.edit("s1", "a", said.id, "y")
    result = chat.rooms.join("s2", "a", since=said.id, rev=said.rev)
    assert [m.text for m in result.updates] == ["y"] and result.messages == []
    assert result.rev == said.rev + 1 == broadcaster.caught_up_rev[("s2", "a")]
    assert broadcaster.caught_up_to[("s2", "a")] == said.id
    assert chat.rooms.join("s2", "a").rev == result.rev  # no since: latest page, same rev


def test_refusals_in_order(chat, connected):
    connected("s1", "alice")
    connected("s2", "bob")
    connected("s3", "carol")
    chat.rooms.join("s1", "a")
    chat.rooms.join("s2", "a")
    said = chat.messages.post("s1", "a", "x")
    assert refusal(chat.messages.edit, "s3", "a", said.id, "y").code == "not_in_room"
    assert refusal(chat.messages.edit, "s2", "a", 9, "").code == "not_found"
    assert refusal(chat.messages.edit, "s2", "a", said.id, "").code == "forbidden"
    assert refusal(chat.messages.edit, "s1", "a", said.id, "").code == "invalid"
    assert refusal(chat.messages.delete, "s2", "a", said.id).code == "forbidden"
    assert refusal(chat.messages.react, "s2", "a", said.id, "a b", True).code == "invalid"
    chat.messages.delete("s1", "a", said.id)
    assert refusal(chat.messages.react, "s2", "a", said.id, "👍", True).code == "not_found"
    assert chat.messages.delete("s1", "a", said.id).deleted  # again: fine


def test_a_stranger_chats_read_back_uses_aliases(chat, connected, clock):
    connected("a1", "alice")
    connected("b1", "bob")
    chat.strangers.find_partner("a1")
    found = chat.strangers.find_partner("b1")
    room = found.room
    first = chat.messages.post("a1", room, "hi")
    clock.now += 10
    reply = chat.messages.post("b1", room, "hey", reply_to=first.id)
    chat.messages.react("b1", room, first.id, "👋", True)
    chat.messages.react("a1", room, first.id, "👋", True)
    aliases = {found.you, found.partner}
    read = chat.messages.changes(room, 0, 99)
    assert {m.user for m in read} == aliases
    quoted = next(m for m in read if m.id == reply.id).reply_to
    assert quoted.user == found.partner  # alice, as bob's partner
    reacted = next(m for m in read if m.id == first.id)
    assert reacted.reactions == (("👋", tuple(sorted(aliases))),)
    assert "alice" not in repr(read) and "bob" not in repr(read)
