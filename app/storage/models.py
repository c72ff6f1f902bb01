"""SQLAlchemy 2 models: users, rooms, messages and reactions, moderation, reports, audit."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, MetaData, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..domain.models import utc_now

# Named constraints keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    # what the name looks like (rules.username_skeleton): unique, so no two processes can
    # register lookalikes at once; NULL only for lookalikes registered before migration 0005
    # suspended_at: the suspension sweep reads the users suspended since its last look
    __table_args__ = (
        Index("uq_users_username_skeleton", "username_skeleton", unique=True),
        Index("ix_users_suspended_at", "suspended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    # casefolded username: uniqueness ignores case on every database
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    username_skeleton: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    # set while an admin has suspended the account (no sign-in, tokens or sockets)
    suspended_at: Mapped[datetime | None]
    suspended_reason: Mapped[str | None] = mapped_column(Text)


class Room(Base):
    __tablename__ = "rooms"
    # `rooms` pages through public rooms by name (ORDER BY name LIMIT n)
    __table_args__ = (Index("ix_rooms_is_private_name", "is_private", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    topic: Mapped[str] = mapped_column(String(200), default="")
    is_private: Mapped[bool] = mapped_column(default=False)
    # Per-room message counter, bumped in the same transaction as the insert: the row lock
    # it takes makes ids commit in order within a room.
    last_message_id: Mapped[int] = mapped_column(default=0)
    # Per-room revision counter: every stored change (message, edit, delete, reaction) takes
    # the next value, in the same transaction and under the same row lock.
    rev: Mapped[int] = mapped_column(default=0, server_default="0")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RoomMember(Base):
    """Who may read and write a private room (public rooms need no membership)."""

    __tablename__ = "room_members"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Block(Base):
    """`blocker` never wants to be matched with, or messaged by, `blocked`."""

    __tablename__ = "blocks"

    blocker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("room_id", "seq"),
        # A retry carries the same client_id: the index makes storing it twice impossible,
        # also when two processes receive the retry at once. NULLs (no client_id) are distinct.
        Index("uq_messages_client_id", "room_id", "user_id", "client_id", unique=True),
        # catch-up reads the messages changed after a client's revision
        Index("ix_messages_room_id_rev", "room_id", "rev"),
        # an edit or delete refreshes the quotes of the replies to the message
        Index("ix_messages_room_id_reply_to", "room_id", "reply_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    seq: Mapped[int]  # the id clients see: 1, 2, 3... within the room
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # the room's revision at this message's latest change
    rev: Mapped[int] = mapped_column(default=0, server_default="0")
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]  # set: a tombstone (text "", no reactions)
    reply_to: Mapped[int | None]  # the seq of the message of the same room it answers


class MessageReaction(Base):
    """One user's reaction (an emoji) to one message."""

    __tablename__ = "message_reactions"
    __table_args__ = (UniqueConstraint("message_id", "emoji", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)  # orders a message's emoji by first use
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    emoji: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RoomRole(Base):
    """A moderator of a public room (owners are `rooms.created_by`; admins `users.is_admin`)."""

    __tablename__ = "room_roles"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # "moderator"
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RoomSanction(Base):
    """A ban or a mute of a user in a public room, until `until` (NULL: until lifted)."""

    __tablename__ = "room_sanctions"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "ban" | "mute"
    until: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Report(Base):
    """A user's report of another user, kept for the admins with what was said around it."""

    __tablename__ = "reports"
    # the report threshold counts recent reports of one user; the queue lists open ones
    __table_args__ = (
        Index("ix_reports_reported_id_created_at", "reported_id", "created_at"),
        Index("ix_reports_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reported_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    room_name: Mapped[str | None] = mapped_column(String(80))
    message_id: Mapped[int | None]  # the room's message id (seq), as clients see it
    reason: Mapped[str] = mapped_column(Text)
    # JSON: the messages kept with the report (real usernames, also for stranger chats)
    context: Mapped[str] = mapped_column(Text, default="[]")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|resolved|dismissed
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AuditEntry(Base):
    """One moderation or admin action: who did what to whom, where, when and why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: `flask` CLI
    action: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    room_name: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON: role, minutes, until...
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
