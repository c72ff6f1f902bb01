"""SQLAlchemy repositories for accounts and rooms; messages: app/storage/messages.py, changes.py."""

from datetime import datetime

from sqlalchemy import Engine, case, delete, exists, false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, scoped_session

from ..domain import models as domain
from ..domain.accounts import Account, UsernameTakenError
from ..domain.rules import username_key, username_skeleton
from .changes import SqlChangeStore
from .messages import SqlMessageStore, _MessageSql
from .models import Block, Room, RoomMember, User

AnySession = Session | scoped_session


def _room(row) -> domain.Room:
    """A room from its ORM object or from a row of its columns (same attribute names)."""
    return domain.Room(
        id=row.id,
        name=row.name,
        topic=row.topic,
        private=row.is_private,
        last_message_id=row.last_message_id or None,
    )


def _account(row: User) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        is_admin=bool(row.is_admin),
        suspended_at=row.suspended_at,
        suspended_reason=row.suspended_reason,
    )


class SqlAccountRepository:
    def __init__(self, session: AnySession):
        self.session = session

    def find_by_username(self, username: str) -> Account | None:
        row = self.session.scalar(select(User).where(User.username_key == username_key(username)))
        return _account(row) if row else None

    def find_lookalike(self, username: str) -> Account | None:
        skeleton = username_skeleton(username)
        row = self.session.scalar(select(User).where(User.username_skeleton == skeleton).limit(1))
        return _account(row) if row else None

    def get(self, user_id: int) -> Account | None:
        row = self.session.get(User, user_id)
        return _account(row) if row else None

    def create(self, username: str, password_hash: str) -> Account:
        row = User(
            username=username,
            username_key=username_key(username),
            username_skeleton=username_skeleton(username),
            password_hash=password_hash,
        )
        self.session.add(row)
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            raise UsernameTakenError(username) from None
        return _account(row)

    # -- admins and suspension -----------------------------------------------------------

    def set_admin(self, user_id: int, is_admin: bool) -> None:
        self.session.execute(update(User).where(User.id == user_id).values(is_admin=is_admin))
        self.session.commit()

    def suspend(self, user_id: int, reason: str | None, at: datetime) -> None:
        # suspending again updates the reason but keeps when it started
        self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                suspended_at=case((User.suspended_at.is_(None), at), else_=User.suspended_at),
                suspended_reason=reason,
            )
        )
        self.session.commit()

    def unsuspend(self, user_id: int) -> None:
        self.session.execute(
            update(User).where(User.id == user_id).values(suspended_at=None, suspended_reason=None)
        )
        self.session.commit()

    def is_admin(self, user_id: int) -> bool:
        found = self.session.scalar(select(User.is_admin).where(User.id == user_id))
        self.session.commit()
        return bool(found)

    def is_suspended(self, user_id: int) -> bool:
        found = self.session.scalar(select(User.suspended_at).where(User.id == user_id))
        self.session.commit()
        return found is not None

    def suspended_since(self, since: datetime) -> list[tuple[int, datetime]]:
        # a range scan of ix_users_suspended_at: only the few suspended lately are read
        rows = self.session.execute(
            select(User.id, User.suspended_at).where(User.suspended_at >= since)
        ).all()
        self.session.commit()
        return [(user_id, at) for user_id, at in rows]

    def search(self, text: str, *, offset: int = 0, limit: int = 50) -> list[Account]:
        key = text.strip().casefold()
        statement = select(User)
        if key:
            statement = statement.where(User.username_key.contains(key, autoescape=True))
            prefix_first = case((User.username_key.startswith(key, autoescape=True), 0), else_=1)
            statement = statement.order_by(prefix_first)
        statement = statement.order_by(User.username_key).offset(offset).limit(limit)
        accounts = [_account(row) for row in self.session.scalars(statement)]
        self.session.commit()
        return accounts


class SqlChatRepository(SqlMessageStore, SqlChangeStore):
    """Rooms, members and blocks here; storing, reading and changing messages in the mixins."""

    def __init__(self, session: AnySession, engine: Engine):
        self.session = session
        self.engine = engine  # messages are stored on its pool, outside the session
        self._rooms: dict[str, domain.Room] = {}  # rooms are never renamed nor deleted
        self._statements = _MessageSql(engine.dialect)

    # -- rooms ---------------------------------------------------------------------------

    def get_room(self, name: str) -> domain.Room | None:
        row = self.session.scalar(select(Room).where(Room.name == name))
        room = _room(row) if row else None  # before the commit, which expires the row
        self.session.commit()  # end the read transaction: later reads must see new rows
        if room is not None:
            self._rooms[name] = room
        return room

    def known_room(self, name: str) -> domain.Room | None:
        """The room as last read: its id, name and privacy never change (its
        `last_message_id` may be old). Saves a query per message."""
        room = self._rooms.get(name)
        return room if room is not None else self.get_room(name)

    def create_room(
        self, name: str, *, topic: str = "", created_by: int | None = None, private: bool = False
    ) -> domain.Room:
        row = Room(name=name, topic=topic, created_by=created_by, is_private=private)
        self.session.add(row)
        try:
            self.session.commit()
        except IntegrityError:  # created by someone else a moment ago
            self.session.rollback()
            existing = self.get_room(name)
            if existing is None:
                raise
            return existing
        return _room(row)

    def list_public_rooms(self, *, after: str | None = None, limit: int) -> list[domain.Room]:
        # a range scan of ix_rooms_is_private_name: cheap at any number of rooms; plain
        # columns, not ORM objects, so the page costs one query and no identity map
        statement = select(
            Room.id, Room.name, Room.topic, Room.is_private, Room.last_message_id
        ).where(Room.is_private == false())
        if after is not None:
            statement = statement.where(Room.name > after)
        rows = self.session.execute(statement.order_by(Room.name).limit(limit)).all()
        self.session.commit()
        return [_room(row) for row in rows]

    def add_member(self, room: domain.Room, user_id: int) -> None:
        self.session.merge(RoomMember(room_id=room.id, user_id=user_id))
        self.session.commit()

    def is_member(self, room: domain.Room, user_id: int) -> bool:
        found = self.session.scalar(
            select(exists().where(RoomMember.room_id == room.id, RoomMember.user_id == user_id))
        )
        self.session.commit()
        return bool(found)

    def other_member(self, room: domain.Room, user_id: int) -> tuple[int, str] | None:
        """The other member of a two-person private room: (id, username)."""
        row = self.session.execute(
            select(User.id, User.username)
            .join(RoomMember, RoomMember.user_id == User.id)
            .where(RoomMember.room_id == room.id, User.id != user_id)
            .limit(1)
        ).first()
        self.session.commit()
        return (row[0], row[1]) if row else None

    def room_members(self, room: domain.Room) -> list[tuple[int, str]]:
        """The (id, username) of a private room's members, by id."""
        rows = self.session.execute(
            select(User.id, User.username)
            .join(RoomMember, RoomMember.user_id == User.id)
            .where(RoomMember.room_id == room.id)
            .order_by(User.id)
        ).all()
        self.session.commit()
        return [(row[0], row[1]) for row in rows]

    def direct_rooms_of(self, user_id: int) -> list[tuple[domain.Room, str]]:
        """The user's direct-message rooms with the other member's name, by that name."""
        mine, theirs = aliased(RoomMember), aliased(RoomMember)
        rows = self.session.execute(
            select(Room, User.username)
            .join(mine, (mine.room_id == Room.id) & (mine.user_id == user_id))
            .join(theirs, (theirs.room_id == Room.id) & (theirs.user_id != user_id))
            .join(User, User.id == theirs.user_id)
            .where(Room.name.startswith("dm:"))
            .order_by(User.username_key)
        ).all()
        rooms = [(_room(room), username) for room, username in rows]  # before the commit
        self.session.commit()
        return rooms

    # -- blocks --------------------------------------------------------------------------

    def block(self, blocker_id: int, blocked_id: int) -> None:
        self.session.merge(Block(blocker_id=blocker_id, blocked_id=blocked_id))
        self.session.commit()

    def unblock(self, blocker_id: int, blocked_id: int) -> None:
        self.session.execute(
            delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
        )
        self.session.commit()

    def blocked_with(self, user_id: int) -> set[int]:
        """Users who blocked `user_id` or whom `user_id` blocked."""
        rows = self.session.execute(
            select(Block.blocker_id, Block.blocked_id).where(
                or_(Block.blocker_id == user_id, Block.blocked_id == user_id)
            )
        ).all()
        self.session.commit()
        return {a if b == user_id else b for a, b in rows}

    def user_by_name(self, username: str) -> tuple[int, str] | None:
        row = self.session.execute(
            select(User.id, User.username).where(User.username_key == username_key(username))
        ).first()
        self.session.commit()
        return (row[0], row[1]) if row else None
