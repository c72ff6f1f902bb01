"""Changing stored messages (edit, delete, react), each one transaction that takes a room rev."""

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, exists, func, insert, or_, select, update

from ..domain import models as domain
from ..domain.errors import MessageGoneError, NotAuthorError, SanctionedError, TooManyReactionsError
from .messages import read_messages
from .models import Message, MessageReaction, Room, RoomSanction

BAN_OR_MUTE = ("ban", "mute")
BAN = ("ban",)


class _NoChangeError(Exception):
    """The change would change nothing: its transaction is rolled back (no rev taken)."""


class SqlChangeStore:
    """The change half of SqlChatRepository (app/storage/sql.py): it needs `engine`, and
    `message` (app/storage/messages.py) for the state a no-op answers with.

    Each change is one transaction that first bumps the room's row (`rooms.rev`): the row
    lock serialises the room's writers on SQLite and PostgreSQL alike, across processes, so
    what the transaction reads next (the message, its reactions) cannot change under it, and
    revisions commit in order. A refusal or a no-op rolls back, which also takes the bump
    back: revisions stay gapless. Returns (changed messages, True), the target first and then
    the replies whose quote changed, each in its state at its own rev; or ([its current
    state], False) for a no-op."""

    engine: object

    def edit_message(
        self,
        room: domain.Room,
        message_id: int,
        user_id: int,
        text: str,
        now: datetime,
        unless_sanctioned_at: datetime | None = None,
    ) -> tuple[list[domain.Message], bool]:
        """Set the text and edited_at of the author's live message (NotAuthorError for anyone
        else's), refreshing the replies' quotes."""

        def apply(connection: Connection, target, rev: int) -> int:
            if target.user_id != user_id:
                raise NotAuthorError(message_id)
            if target.text == text:
                raise _NoChangeError
            connection.execute(
                update(Message)
                .where(Message.id == target.id)
                .values(text=text, edited_at=now, rev=rev)
            )
            return _refresh_replies(connection, room, message_id, rev)

        guard = _guard(user_id, BAN_OR_MUTE, unless_sanctioned_at)
        return self._change(room, message_id, guard, apply, live=True)

    def delete_message(
        self,
        room: domain.Room,
        message_id: int,
        user_id: int,
        now: datetime,
        *,
        any_author: bool = False,
        unless_banned_at: datetime | None = None,
    ) -> tuple[list[domain.Message], bool]:
        """Make the message a tombstone (text "", no reactions, no reply_to), refreshing the
        replies' quotes; only the author's unless `any_author`. A tombstone is a no-op."""

        def apply(connection: Connection, target, rev: int) -> int:
            if target.deleted_at is not None:
                raise _NoChangeError
            if not any_author and target.user_id != user_id:
                raise NotAuthorError(message_id)
            connection.execute(
                delete(MessageReaction).where(MessageReaction.message_id == target.id)
            )
            connection.execute(
                update(Message)
                .where(Message.id == target.id)
                .values(text="", deleted_at=now, reply_to=None, rev=rev)
            )
            return _refresh_replies(connection, room, message_id, rev)

        guard = _guard(user_id, BAN, unless_banned_at)
        return self._change(room, message_id, guard, apply, live=False)

    def react(
        self,
        room: domain.Room,
        message_id: int,
        user_id: int,
        emoji: str,
        on: bool,
        *,
        max_emoji: int,
        now: datetime,
        unless_sanctioned_at: datetime | None = None,
    ) -> tuple[list[domain.Message], bool]:
        """Add (`on`) or remove the user's reaction `emoji`; TooManyReactionsError when adding a
        new emoji to a message that has `max_emoji` already."""

        def apply(connection: Connection, target, rev: int) -> int:
            mine = (
                MessageReaction.message_id == target.id,
                MessageReaction.emoji == emoji,
                MessageReaction.user_id == user_id,
            )
            if on:
                if connection.scalar(select(exists().where(*mine))):
                    raise _NoChangeError
                there = connection.scalar(
                    select(exists().where(*mine[:2]))
                )  # someone else's: joining them adds no emoji
                if not there:
                    distinct = connection.scalar(
                        select(func.count(func.distinct(MessageReaction.emoji))).where(mine[0])
                    )
                    if distinct >= max_emoji:
                        raise TooManyReactionsError(message_id)
                connection.execute(
                    insert(MessageReaction).values(
                        message_id=target.id, user_id=user_id, emoji=emoji, created_at=now
                    )
                )
            elif connection.execute(delete(MessageReaction).where(*mine)).rowcount == 0:
                raise _NoChangeError
            connection.execute(update(Message).where(Message.id == target.id).values(rev=rev))
            return rev

        guard = _guard(user_id, BAN_OR_MUTE, unless_sanctioned_at)
        return self._change(room, message_id, guard, apply, live=True)

    def _change(
        self,
        room: domain.Room,
        message_id: int,
        guard,
        apply: Callable[[Connection, object, int], int],
        *,
        live: bool,
    ) -> tuple[list[domain.Message], bool]:
        """Bump the room (first: its row lock orders the room's writers), read the target
        (MessageGoneError when missing, or deleted and `live` is needed), `apply` the change
        (returns the last rev it used), set the room's rev to it, and read back what changed."""
        try:
            with self.engine.begin() as connection:
                rev = _bump(connection, room, guard)
                if rev is None:
                    raise SanctionedError(message_id)
                target = connection.execute(
                    select(Message.id, Message.user_id, Message.text, Message.deleted_at).where(
                        Message.room_id == room.id, Message.seq == message_id
                    )
                ).first()
                if target is None or (live and target.deleted_at is not None):
                    raise MessageGoneError(message_id)
                last_rev = apply(connection, target, rev)
                if last_rev != rev:  # replies took revisions of their own
                    connection.execute(update(Room).where(Room.id == room.id).values(rev=last_rev))
                changed = read_messages(
                    connection.execute,
                    room,
                    Message.rev >= rev,
                    Message.rev <= last_rev,
                    order=Message.rev.asc(),
                    limit=None,
                )
        except _NoChangeError:
            return [self.message(room, message_id)], False
        return changed, True


def _guard(user_id: int, kinds: Iterable[str], at: datetime | None):
    return None if at is None else (user_id, tuple(kinds), at)


def _bump(connection: Connection, room: domain.Room, guard) -> int | None:
    """Take the room's next rev (and its row lock); None, nothing taken, when `guard`
    (user id, sanction kinds, time) finds such a sanction of the user still on."""
    statement = update(Room).where(Room.id == room.id).values(rev=Room.rev + 1)
    if guard is not None:
        user_id, kinds, at = guard
        statement = statement.where(
            ~exists().where(
                RoomSanction.room_id == room.id,
                RoomSanction.user_id == user_id,
                RoomSanction.kind.in_(kinds),
                or_(RoomSanction.until.is_(None), RoomSanction.until > at),
            )
        )
    return connection.scalar(statement.returning(Room.rev))


def _refresh_replies(connection: Connection, room: domain.Room, message_id: int, rev: int) -> int:
    """Give each live reply to the message the next rev (ascending id): its quote changed.
    Returns the last rev used."""
    replies = connection.scalars(
        select(Message.id)
        .where(Message.room_id == room.id, Message.reply_to == message_id)
        .where(Message.deleted_at.is_(None))
        .order_by(Message.seq)
    ).all()
    if replies:
        connection.execute(
            update(Message)
            .where(Message.id == bindparam("row_id"))
            .values(rev=bindparam("new_rev")),
            [{"row_id": row_id, "new_rev": rev + n} for n, row_id in enumerate(replies, 1)],
        )
    return rev + len(replies)
