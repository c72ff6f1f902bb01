"""SQLAlchemy 2 models: users, rooms, private-room members and messages."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, MetaData, String, Text, UniqueConstraint
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
    __table_args__ = (Index("uq_users_username_skeleton", "username_skeleton", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    # casefolded username: uniqueness ignores case on every database
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    username_skeleton: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    seq: Mapped[int]  # the id clients see: 1, 2, 3... within the room
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
