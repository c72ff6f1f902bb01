"""The message store's revisions on SQLite and PostgreSQL (app/storage/messages.py,
changes.py): every stored change takes the room's next rev, also when writers race in
threads with connections of their own; refusals and no-ops take none; the 20-emoji cap holds
under a race; reads give the current state (quotes, reactions in order, tombstones) and
`changed` pages by rev."""

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import scoped_session, sessionmaker

import app.storage.engine  # noqa: F401  (SQLite's WAL and busy timeout for every engine)
from app.domain.errors import (
    MessageGoneError,
    NotAuthorError,
    SanctionedError,
    TooManyReactionsError,
)
from app.domain.models import Identity
from app.domain.rules import username_key, username_skeleton
from app.storage.engine import normalise_database_url
from app.storage.models import Base, Room, RoomSanction, User
from app.storage.sql import SqlChatRepository
from tests.support.services import PostgresDatabase

NOW = datetime(2026, 12, 2, 10, 0, 0)
WRITERS = 6


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'revs.db'}")
    else:
        database = PostgresDatabase().create()  # skipped when PostgreSQL is not reachable
        request.addfinalizer(database.drop)
        engine = create_engine(normalise_database_url(database.url))
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine):
    """A repository factory (one session each, as each server thread has), the room, and
    the users alice, bob and carol as Identities."""
    session = scoped_session(sessionmaker(engine))
    users = [
        User(
            username=name,
            username_key=username_key(name),
            username_skeleton=username_skeleton(name),
            password_hash="x",
        )
        for name in ("alice", "Bob", "carol")
    ]
    session.add_all([*users, Room(name="general", topic="")])
    session.commit()
    people = {user.username: Identity(user.id, user.username) for user in users}
    factories: list = []

    def repository() -> SqlChatRepository:
        own = scoped_session(sessionmaker(engine))
        factories.append(own)
        return SqlChatRepository(own, engine)

    main = repository()
    yield main, main.get_room("general"), people, repository
    for own in [session, *factories]:
        own.remove()


def post(repository, room, who, text, reply_to=None):
    message, created = repository.add_message(room, who, text, None, NOW, NOW, reply_to)
    assert created
    return message


def test_reads_give_quotes_reactions_and_tombstones(store):
    repository, room, people, _ = store
    alice, bob, carol = people["alice"], people["Bob"], people["carol"]
    first = post(repository, room, alice, "q" * 250)
    reply = post(repository, room, bob, "answer", reply_to=first.id)
    assert (reply.reply_to.user, reply.reply_to.text) == ("alice", "q" * 200)
    for who, emoji in ((carol, "🎉"), (bob, "👍"), (alice, "👍"), (carol, "👍")):
        repository.react(room, reply.id, who.user_id, emoji, True, max_emoji=20, now=NOW)
    stored = repository.message(room, reply.id)
    assert stored.reactions == (("🎉", ("carol",)), ("👍", ("alice", "Bob", "carol")))
    assert stored.reply_to == reply.reply_to
    changed, done = repository.delete_message(room, first.id, alice.user_id, NOW)
    assert done and [m.id for m in changed] == [first.id, reply.id]
    tombstone, quoting = changed
    assert (tombstone.text, tombstone.deleted, tombstone.reactions) == ("", True, ())
    assert (quoting.reply_to.text, quoting.reply_to.deleted) == ("", True)
    assert quoting.rev == tombstone.rev + 1 == repository.room_rev(room)
    assert repository.latest(room, 10)[0] == [tombstone, quoting]
    with pytest.raises(MessageGoneError):
        post(repository, room, carol, "re", reply_to=first.id)
    with pytest.raises(MessageGoneError):
        post(repository, room, carol, "re", reply_to=99)


def test_refusals_and_no_ops_take_no_rev(store):
    repository, room, people, _ = store
    alice, bob = people["alice"], people["Bob"]
    said = post(repository, room, alice, "hi")
    rev = repository.room_rev(room)
    with pytest.raises(NotAuthorError):
        repository.edit_message(room, said.id, bob.user_id, "mine", NOW)
    with pytest.raises(MessageGoneError):
        repository.edit_message(room, 42, alice.user_id, "x", NOW)
    assert repository.edit_message(room, said.id, alice.user_id, "hi", NOW) == ([said], False)
    gone = repository.react(room, said.id, bob.user_id, "👋", False, max_emoji=20, now=NOW)
    assert gone == ([said], False)
    # a mute refuses edits and reactions, not deleting your own; a ban refuses that too
    repository.session.add(
        RoomSanction(room_id=room.id, user_id=alice.user_id, kind="mute", until=NOW + timedelta(1))
    )
    repository.session.commit()
    with pytest.raises(SanctionedError):
        repository.edit_message(room, said.id, alice.user_id, "x", NOW, NOW)
    with pytest.raises(SanctionedError):
        repository.react(
            room,
            said.id,
            alice.user_id,
            "👋",
            True,
            max_emoji=20,
            now=NOW,
            unless_sanctioned_at=NOW,
        )
    assert repository.room_rev(room) == rev
    repository.session.add(
        RoomSanction(room_id=room.id, user_id=alice.user_id, kind="ban", until=NOW + timedelta(1))
    )
    repository.session.commit()
    with pytest.raises(SanctionedError):
        repository.delete_message(room, said.id, alice.user_id, NOW, unless_banned_at=NOW)
    assert repository.room_rev(room) == rev
    # the ban ended: deleting works, and deleting again is a no-op
    later = NOW + timedelta(2)
    changed, done = repository.delete_message(
        room, said.id, alice.user_id, NOW, unless_banned_at=later
    )
    assert done and changed[0].rev == rev + 1
    assert repository.delete_message(room, said.id, alice.user_id, NOW)[1] is False
    assert repository.room_rev(room) == rev + 1


def test_changed_pages_by_rev_within_since_and_upto(store):
    repository, room, people, _ = store
    alice = people["alice"]
    for number in range(1, 6):
        post(repository, room, alice, f"m{number}")
    repository.edit_message(room, 2, alice.user_id, "m2!", NOW)  # rev 6
    repository.edit_message(room, 5, alice.user_id, "m5!", NOW)  # rev 7
    page, more = repository.changed(room, after_rev=3, limit=10)
    assert [(m.id, m.rev) for m in page] == [(4, 4), (2, 6), (5, 7)] and not more
    page, more = repository.changed(room, after_rev=3, max_id=4, limit=10)
    assert [(m.id, m.rev) for m in page] == [(4, 4), (2, 6)]
    page, more = repository.changed(room, after_rev=0, upto_rev=6, limit=2)
    assert [(m.id, m.rev) for m in page] == [(1, 1), (3, 3)] and more


def test_racing_writers_take_every_rev_once_in_commit_order(store):
    repository, room, people, factory = store
    alice, bob = people["alice"], people["Bob"]
    targets = [post(repository, room, alice, f"t{n}") for n in range(WRITERS)]
    revs: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(number: int) -> None:
        own = factory()
        taken: list[int] = []
        try:
            for step in range(8):
                if step % 3 == 0:
                    taken += [post(own, room, bob, f"w{number}-{step}").rev]
                elif step % 3 == 1:
                    changed, _ = own.react(
                        room, targets[step % WRITERS].id, bob.user_id, f"e{number}-{step}", True,
                        max_emoji=100, now=NOW,
                    )  # fmt: skip
                    taken += [m.rev for m in changed]
                else:
                    changed, _ = own.edit_message(
                        room, targets[number].id, alice.user_id, f"v{number}-{step}", NOW
                    )
                    taken += [m.rev for m in changed]
            with lock:
                revs.extend(taken)
        except BaseException as error:  # noqa: BLE001  (reported by the main thread)
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    final = repository.room_rev(room)
    assert final == WRITERS + WRITERS * 8  # the targets, then 8 changes per writer
    assert sorted(revs) == list(range(WRITERS + 1, final + 1))  # each taken once, no gap
    stored = repository.changed(room, after_rev=0, limit=1000)[0]
    assert len({m.rev for m in stored}) == len(stored)  # no two messages share a rev
    assert max(m.rev for m in stored) == final
    assert repository.session.scalar(select(Room.last_message_id).where(Room.id == room.id)) == (
        WRITERS + WRITERS * 3
    )


def test_the_emoji_cap_holds_when_reactions_race(store):
    repository, room, people, factory = store
    said = post(repository, room, people["alice"], "race")
    outcomes: list[str] = []
    lock = threading.Lock()

    def add(number: int) -> None:
        own = factory()
        try:
            own.react(
                room, said.id, people["Bob"].user_id, f"r{number}", True, max_emoji=20, now=NOW
            )
            outcome = "added"
        except TooManyReactionsError:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(26)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["added"] * 20 + ["refused"] * 6
    assert len(repository.message(room, said.id).reactions) == 20
    assert repository.room_rev(room) == said.rev + 20
