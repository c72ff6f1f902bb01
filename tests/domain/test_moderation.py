"""Domain tests of moderation: bans and mutes end by themselves (fake clock), the store refuses
a sanctioned post even from a connection still in the room, and who may delete a message."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from app.domain.errors import ChatError
from app.domain.models import Kicked, Muted, Sanction
from app.domain.standing import BAN, MUTE
from app.storage.models import User


def refusal(call, *args, **kwargs) -> ChatError:
    with pytest.raises(ChatError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def lobby(chat, connected):
    """#lobby owned by olga (sid o1); mia (m1) is in it."""
    connected("o1", "olga")
    connected("m1", "mia")
    chat.rooms.join("o1", "lobby")
    chat.rooms.join("m1", "lobby")
    return chat.ports.repository.get_room("lobby")


def notices(broadcaster, kind) -> list:
    return [sent[2] for sent in broadcaster.sent if sent[0] == kind.__name__]


def test_a_ban_for_minutes_ends_by_itself(chat, lobby, clock, broadcaster):
    chat.moderation.ban("o1", "lobby", "mia", minutes=30, reason="spam")
    (kicked,) = notices(broadcaster, Kicked)
    assert kicked.banned and kicked.reason == "spam"
    assert kicked.until == datetime(1970, 1, 1, 0, 46, 40)
    refused = refusal(chat.rooms.join, "m1", "lobby")
    assert (refused.code, refused.message) == (
        "forbidden",
        "You are banned from #lobby until 1970-01-01 00:46 UTC.",
    )
    assert refusal(chat.messages.post, "m1", "lobby", "let me in").code == "forbidden"
    clock.now += 30 * 60 - 1
    assert refusal(chat.rooms.join, "m1", "lobby").code == "forbidden"
    clock.now += 1  # the ban's end: nothing is sent, the next join simply works
    sent = len(broadcaster.sent)
    chat.rooms.join("m1", "lobby")
    assert chat.messages.post("m1", "lobby", "back").text == "back"
    assert [entry[0] for entry in broadcaster.sent[sent:]] == ["presence", "message"]


def test_a_mute_ends_by_itself(chat, lobby, clock, broadcaster):
    chat.moderation.mute("o1", "lobby", "mia", 1)
    (muted,) = notices(broadcaster, Muted)
    assert (muted.by, muted.until) == ("olga", datetime(1970, 1, 1, 0, 17, 40))
    refused = refusal(chat.messages.post, "m1", "lobby", "hello?")
    assert refused.message == "You are muted in #lobby until 1970-01-01 00:17 UTC."
    assert refusal(chat.messages.typing, "m1", "lobby", True).code == "forbidden"
    clock.now += 60
    chat.messages.typing("m1", "lobby", True)
    assert chat.messages.post("m1", "lobby", "free again").id == 1


def test_a_new_ban_replaces_the_earlier_one(chat, lobby, clock):
    chat.moderation.ban("o1", "lobby", "mia", minutes=5)
    chat.moderation.ban("o1", "lobby", "mia", minutes=120)
    clock.now += 10 * 60
    assert "1970-01-01 02:16 UTC" in refusal(chat.rooms.join, "m1", "lobby").message
    chat.moderation.ban("o1", "lobby", "mia", minutes=1)
    clock.now += 60
    chat.rooms.join("m1", "lobby")


def test_the_store_refuses_a_sanctioned_post_from_a_connection_still_in_the_room(
    chat, lobby, connected
):
    """A ban made by another process reaches this one through the database alone: the
    connection is still subscribed here, yet the message is not stored."""
    repository = chat.ports.repository
    mia = repository.user_by_name("mia")[0]
    chat.ports.moderation.sanction(lobby, mia, Sanction(BAN, None), None)
    refused = refusal(chat.messages.post, "m1", "lobby", "sneaky")
    assert refused.message == "You are banned from #lobby until a moderator lifts it."
    assert repository.latest(lobby, 10) == ([], False)
    chat.ports.moderation.lift(lobby, mia, BAN)
    until = datetime(1970, 1, 1, 0, 16, 40) + timedelta(minutes=5)  # the fake clock's 1000 s
    chat.ports.moderation.sanction(lobby, mia, Sanction(MUTE, until), None)
    identity = chat.ports.presence.identity("m1")
    assert refusal(chat.messages.post_as, identity, "lobby", "over http").code == "forbidden"
    assert repository.latest(lobby, 10) == ([], False)
    # others keep posting, with gapless ids
    assert chat.messages.post("o1", "lobby", "first").id == 1


def test_the_muted_users_room_objects_say_until_when_until_the_mute_ends(chat, lobby, clock):
    chat.rooms.join("m1", "elsewhere")
    chat.moderation.mute("o1", "lobby", "mia", 1)
    end = datetime(1970, 1, 1, 0, 17, 40)
    assert chat.rooms.join("m1", "lobby").room.muted_until == end
    listed = {entry.room.name: entry.muted_until for entry in chat.rooms.page("m1").rooms}
    assert listed == {"elsewhere": None, "lobby": end}
    # nobody else's view carries it
    assert chat.rooms.join("o1", "lobby").room.muted_until is None
    clock.now += 59
    assert chat.rooms.join("m1", "lobby").room.muted_until == end
    clock.now += 1  # the mute's end: null, with nothing sent
    assert chat.rooms.join("m1", "lobby").room.muted_until is None
    assert [entry.muted_until for entry in chat.rooms.page("m1").rooms] == [None, None]


def test_sanctions_are_per_room(chat, lobby, connected):
    chat.moderation.mute("o1", "lobby", "mia", 10)
    chat.rooms.join("m1", "elsewhere")
    assert chat.messages.post("m1", "elsewhere", "fine here").id == 1


def test_moderators_and_up_may_delete_anyones_message(chat, lobby, connected, session):
    connected("x1", "moe")
    connected("a1", "ada")
    repository = chat.ports.repository
    chat.moderation.set_role("o1", "lobby", "moe", "moderator")
    ids = {name: repository.user_by_name(name)[0] for name in ("olga", "mia", "moe", "ada")}
    identities = {
        name: chat.ports.presence.identity(sid)
        for name, sid in (("olga", "o1"), ("mia", "m1"), ("moe", "x1"), ("ada", "a1"))
    }
    may_delete = chat.moderation.may_delete
    assert may_delete(identities["mia"], lobby, ids["mia"])  # your own
    assert not may_delete(identities["mia"], lobby, ids["olga"])
    assert may_delete(identities["moe"], lobby, ids["mia"])
    assert may_delete(identities["olga"], lobby, ids["moe"])
    assert not may_delete(identities["ada"], lobby, ids["mia"])  # not an admin yet
    session.execute(update(User).where(User.id == ids["ada"]).values(is_admin=True))
    session.commit()
    assert may_delete(identities["ada"], lobby, ids["olga"])
    dm = chat.direct.open("o1", "mia").room
    dm_room = repository.get_room(dm.name)
    assert not may_delete(identities["olga"], dm_room, ids["mia"])  # nobody moderates a DM
    assert may_delete(identities["olga"], dm_room, ids["olga"])
