"""Storing new messages (the hot path, at the driver level) and reading messages back whole."""

from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ..domain import models as domain
from ..domain.errors import MessageGoneError
from .models import Message, MessageReaction, Room, User

# How much of the quoted message a reply shows (docs/protocol.md, "Objects").
QUOTE_LENGTH = 200

Execute = Callable  # Session.execute or Connection.execute: both run a Core select


def read_messages(
    execute: Execute, room: domain.Room, *conditions, order, limit: int | None
) -> list[domain.Message]:
    """The messages of `room` matching `conditions`, in their current state: the reply quote
    read by a self-join, the reactions by one more query for the whole page."""
    quoted, quoted_author = aliased(Message), aliased(User)
    statement = (
        select(
            Message.id,
            Message.seq,
            User.username,
            Message.text,
            Message.created_at,
            Message.client_id,
            Message.rev,
            Message.edited_at,
            Message.deleted_at,
            Message.reply_to,
            quoted_author.username,
            # cut by the database: a page of replies never carries whole quoted texts
            func.substr(quoted.text, 1, QUOTE_LENGTH),
            quoted.deleted_at,
        )
        .join(User, User.id == Message.user_id)
        .outerjoin(quoted, (quoted.room_id == Message.room_id) & (quoted.seq == Message.reply_to))
        .outerjoin(quoted_author, quoted_author.id == quoted.user_id)
        .where(Message.room_id == room.id, *conditions)
    )
    if order is not None:
        statement = statement.order_by(order)
    if limit is not None:
        statement = statement.limit(limit)
    rows = execute(statement).all()
    reactions = _reactions(execute, [row[0] for row in rows if row[8] is None])
    messages = []
    for (
        row_id,
        seq,
        username,
        text,
        created_at,
        client_id,
        rev,
        edited_at,
        deleted_at,
        reply_to,
        quoted_user,
        quoted_text,
        quoted_deleted_at,
    ) in rows:
        quote = None
        if reply_to is not None and deleted_at is None and quoted_user is not None:
            gone = quoted_deleted_at is not None
            quote = domain.ReplyQuote(reply_to, quoted_user, "" if gone else quoted_text, gone)
        messages.append(
            domain.Message(
                seq,
                room.name,
                username,
                "" if deleted_at is not None else text,
                created_at,
                client_id,
                reply_to=quote,
                edited_at=edited_at,
                deleted=deleted_at is not None,
                reactions=reactions.get(row_id, ()),
                rev=rev,
            )
        )
    return messages


def _reactions(execute: Execute, message_ids: list[int]) -> dict[int, domain.Reactions]:
    """Per message row id: emoji in the order first used (lowest reaction id first), each
    with its users sorted ignoring case. One query for any number of messages."""
    if not message_ids:
        return {}
    rows = execute(
        select(MessageReaction.message_id, MessageReaction.emoji, User.username)
        .join(User, User.id == MessageReaction.user_id)
        .where(MessageReaction.message_id.in_(message_ids))
        .order_by(MessageReaction.id)
    ).all()
    found: dict[int, dict[str, list[str]]] = {}
    for message_id, emoji, username in rows:
        found.setdefault(message_id, {}).setdefault(emoji, []).append(username)
    return {
        message_id: tuple(
            (emoji, tuple(sorted(users, key=lambda name: (name.casefold(), name))))
            for emoji, users in by_emoji.items()
        )
        for message_id, by_emoji in found.items()
    }


class SqlMessageStore:
    """The message half of SqlChatRepository (app/storage/sql.py): it needs `session`,
    `engine` and `_statements` (a _MessageSql) from there."""

    session: object
    engine: object
    _statements: "_MessageSql"

    def add_message(
        self,
        room: domain.Room,
        user: domain.Identity,
        text: str,
        client_id: str | None,
        now: datetime,
        unless_sanctioned_at: datetime | None = None,
        reply_to: int | None = None,
    ) -> tuple[domain.Message, bool] | None:
        try:
            stored = self._insert_message(
                room, user, text, client_id, now, unless_sanctioned_at, reply_to
            )
        except (self.engine.dialect.dbapi.IntegrityError, MessageGoneError):
            # (room, user, client_id) is unique: a retry of a stored message (the rollback
            # also took back the counter, so ids stay gapless). A retry is answered before
            # its reply_to is looked at: the quoted message may be gone since the original.
            original = self.find_by_client_id(room, user.user_id, client_id) if client_id else None
            if original is None:
                raise
            return original, False
        if stored is None:  # banned or muted: nothing stored
            return None
        seq, rev, quote = stored
        message = domain.Message(
            seq, room.name, user.username, text, now, client_id, reply_to=quote, rev=rev
        )
        return message, True

    def _insert_message(
        self,
        room: domain.Room,
        user: domain.Identity,
        text: str,
        client_id: str | None,
        now: datetime,
        unless_sanctioned_at: datetime | None,
        reply_to: int | None,
    ) -> tuple[int, int, domain.ReplyQuote | None] | None:
        """Bump the room's counters and insert the message in one committed transaction;
        None (nothing stored) when `unless_sanctioned_at` finds the user banned or muted;
        MessageGoneError when `reply_to` names no message of the room, or a deleted one.

        On a pooled driver connection of its own rather than the ORM session: a Session, its
        transaction and its teardown cost more CPU per message than both statements did
        (docs/performance.md, History). Nothing else runs in this transaction. The sanction
        check rides in the counter's UPDATE: no round trip more per message, and a ban made
        by any process holds from its commit on. Only a reply reads one row more."""
        statements = self._statements
        quote = None
        connection = self.engine.raw_connection()
        try:
            try:
                cursor = connection.cursor()
                try:
                    if unless_sanctioned_at is None:
                        cursor.execute(statements.bump, (room.id,))
                    else:
                        at = statements.timestamp(unless_sanctioned_at)
                        cursor.execute(
                            statements.guarded_bump, (room.id, room.id, user.user_id, at)
                        )
                    row = cursor.fetchone()
                    if row is None:
                        connection.rollback()
                        return None
                    seq, rev = row
                    if reply_to is not None:
                        # under the room row's lock: the quoted message cannot go meanwhile
                        cursor.execute(statements.quote, (room.id, reply_to))
                        found = cursor.fetchone()
                        if found is None or found[2] is not None:
                            raise MessageGoneError(reply_to)
                        quote = domain.ReplyQuote(reply_to, found[0], found[1])
                    cursor.execute(
                        statements.insert,
                        (
                            room.id,
                            seq,
                            user.user_id,
                            text,
                            client_id,
                            statements.timestamp(now),
                            rev,
                            reply_to,
                        ),
                    )
                finally:
                    cursor.close()
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        finally:
            connection.close()  # back to the pool
        return seq, rev, quote

    # -- reads -----------------------------------------------------------------------------

    def find_by_client_id(
        self, room: domain.Room, user_id: int, client_id: str
    ) -> domain.Message | None:
        messages = self._select(
            room, Message.user_id == user_id, Message.client_id == client_id, order=None, limit=1
        )
        return messages[0] if messages else None

    def live_replies(self, room: domain.Room, message_id: int) -> int:
        """A count over ix_messages_room_id_reply_to: a message's replies, not whole rooms."""
        with self._snapshot() as connection:
            return connection.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.room_id == room.id, Message.reply_to == message_id)
                .where(Message.deleted_at.is_(None))
            )

    def message(self, room: domain.Room, message_id: int) -> domain.Message | None:
        """One message of the room by its id, in its current state (tombstones too)."""
        found = self._select(room, Message.seq == message_id, order=None, limit=1)
        return found[0] if found else None

    def latest(self, room: domain.Room, limit: int) -> tuple[list[domain.Message], bool]:
        rows = self._select(room, order=Message.seq.desc(), limit=limit + 1)
        return list(reversed(rows[:limit])), len(rows) > limit

    def before(
        self, room: domain.Room, before: int, limit: int
    ) -> tuple[list[domain.Message], bool]:
        rows = self._select(room, Message.seq < before, order=Message.seq.desc(), limit=limit + 1)
        return list(reversed(rows[:limit])), len(rows) > limit

    def after(self, room: domain.Room, since: int, limit: int) -> tuple[list[domain.Message], bool]:
        rows = self._select(room, Message.seq > since, order=Message.seq.asc(), limit=limit + 1)
        return rows[:limit], len(rows) > limit

    def changed(
        self,
        room: domain.Room,
        *,
        after_rev: int,
        max_id: int | None = None,
        upto_rev: int | None = None,
        limit: int,
    ) -> tuple[list[domain.Message], bool]:
        """The current state of the messages whose latest change is after `after_rev` (and
        whose id is at most `max_id`, rev at most `upto_rev`, when given), ascending rev, at
        most `limit`; and whether there were more. A range scan of ix_messages_room_id_rev."""
        conditions = [Message.rev > after_rev]
        if max_id is not None:
            conditions.append(Message.seq <= max_id)
        if upto_rev is not None:
            conditions.append(Message.rev <= upto_rev)
        rows = self._select(room, *conditions, order=Message.rev.asc(), limit=limit + 1)
        return rows[:limit], len(rows) > limit

    def catch_up(
        self,
        room: domain.Room,
        since: int | None,
        rev: int | None,
        *,
        page: int,
        catch_up_max: int,
        updates_max: int,
    ) -> domain.CatchUp:
        """A join's reads in one snapshot of the database (PostgreSQL: REPEATABLE READ;
        SQLite: one read transaction), so the room revision read covers exactly the states
        read: with several processes committing meanwhile, a change is either in this
        catch-up or after its revision, never both (docs/protocol.md, "Room revisions")."""
        with self._snapshot() as connection:
            execute = connection.execute
            room_rev = connection.scalar(select(Room.rev).where(Room.id == room.id)) or 0
            updates, truncated = [], False
            if since is None:
                rows = read_messages(execute, room, order=Message.seq.desc(), limit=page + 1)
                messages, has_more = list(reversed(rows[:page])), len(rows) > page
            else:
                rows = read_messages(
                    execute,
                    room,
                    Message.seq > since,
                    order=Message.seq.asc(),
                    limit=catch_up_max + 1,
                )
                messages, has_more = rows[:catch_up_max], len(rows) > catch_up_max
                if rev is not None:
                    rows = read_messages(
                        execute,
                        room,
                        Message.rev > rev,
                        Message.seq <= since,
                        order=Message.rev.asc(),
                        limit=updates_max + 1,
                    )
                    updates, truncated = rows[:updates_max], len(rows) > updates_max
        return domain.CatchUp(room_rev, messages, has_more, updates, truncated)

    def room_rev(self, room: domain.Room) -> int:
        """The room's revision now (a fresh read, never remembered)."""
        rev = self.session.scalar(select(Room.rev).where(Room.id == room.id))
        self.session.commit()
        return rev or 0

    def _select(
        self, room: domain.Room, *conditions, order, limit: int | None
    ) -> list[domain.Message]:
        with self._snapshot() as connection:
            return read_messages(connection.execute, room, *conditions, order=order, limit=limit)

    @contextmanager
    def _snapshot(self):
        """A connection whose reads all see one snapshot of the database (PostgreSQL:
        REPEATABLE READ; SQLite: one read transaction): a message and its reactions are
        read as of the same moment, never a reaction committed in between."""
        with self.engine.connect() as connection:
            if self.engine.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            else:
                # pysqlite opens no transaction for reads: without BEGIN each SELECT would
                # see the database as of its own start
                connection.exec_driver_sql("BEGIN")
            yield connection
            connection.commit()


_BUMP_COUNTER = (
    "UPDATE rooms SET last_message_id = last_message_id + 1, rev = rev + 1 WHERE id = ? "
    "RETURNING last_message_id, rev"
)
# The same, unless the user has a ban or mute in the room that is still on (a primary-key
# probe of room_sanctions, in the statement the message takes anyway)
_GUARDED_BUMP = (
    "UPDATE rooms SET last_message_id = last_message_id + 1, rev = rev + 1 WHERE id = ? "
    "AND NOT EXISTS (SELECT 1 FROM room_sanctions WHERE room_id = ? AND user_id = ? "
    "AND (until IS NULL OR until > ?)) RETURNING last_message_id, rev"
)
# The message a reply answers: its author, its text cut for the quote (QUOTE_LENGTH), and
# whether it is gone
_QUOTE = (
    "SELECT u.username, substr(m.text, 1, 200), m.deleted_at FROM messages m "
    "JOIN users u ON u.id = m.user_id WHERE m.room_id = ? AND m.seq = ?"
)
_INSERT_MESSAGE = (
    "INSERT INTO messages (room_id, seq, user_id, text, client_id, created_at, rev, reply_to) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class _MessageSql:
    """Storing a message as two driver-level statements in one transaction.

    Every chat message runs them, and the ORM and Core layers spent more CPU per message
    than the database did (docs/performance.md, History); the SQL is the same on SQLite and
    PostgreSQL, only the placeholder differs.
    """

    def __init__(self, dialect):
        # written with qmark placeholders (SQLite); psycopg's are %s
        placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
        self.bump = _BUMP_COUNTER.replace("?", placeholder)
        self.guarded_bump = _GUARDED_BUMP.replace("?", placeholder)
        self.quote = _QUOTE.replace("?", placeholder)
        self.insert = _INSERT_MESSAGE.replace("?", placeholder)
        # the column type's own conversion, so rows read back exactly as the ORM wrote them
        column_type = Message.__table__.c.created_at.type.dialect_impl(dialect)
        self.timestamp = column_type.bind_processor(dialect) or (lambda value: value)
