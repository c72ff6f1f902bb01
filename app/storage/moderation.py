"""Room staff and sanctions in SQL: admins, owners, moderators, bans and mutes."""

from datetime import datetime

from sqlalchemy import delete, exists, or_, select, update

from ..domain import models as domain
from .models import Room, RoomRole, RoomSanction, User
from .sql import AnySession

MODERATOR = "moderator"


class SqlModerationRepository:
    def __init__(self, session: AnySession):
        self.session = session

    def is_admin(self, user_id: int) -> bool:
        found = self.session.scalar(select(User.is_admin).where(User.id == user_id))
        self.session.commit()
        return bool(found)

    def owner_of(self, room: domain.Room) -> int | None:
        owner = self.session.scalar(select(Room.created_by).where(Room.id == room.id))
        self.session.commit()
        return owner

    def is_moderator(self, room: domain.Room, user_id: int) -> bool:
        found = self.session.scalar(
            select(exists().where(RoomRole.room_id == room.id, RoomRole.user_id == user_id))
        )
        self.session.commit()
        return bool(found)

    def staff(self, room_ids: list[int]) -> dict[int, tuple[str | None, tuple[str, ...]]]:
        """Two queries for any number of rooms: the owners' names, then every moderator."""
        if not room_ids:
            return {}
        owners = dict(
            self.session.execute(
                select(Room.id, User.username)
                .join(User, User.id == Room.created_by)
                .where(Room.id.in_(room_ids))
            ).all()
        )
        moderators: dict[int, list[str]] = {}
        for room_id, username in self.session.execute(
            select(RoomRole.room_id, User.username)
            .join(User, User.id == RoomRole.user_id)
            .where(RoomRole.room_id.in_(room_ids), RoomRole.role == MODERATOR)
            .order_by(User.username_key)
        ).all():
            moderators.setdefault(room_id, []).append(username)
        self.session.commit()
        return {
            room_id: (owners.get(room_id), tuple(moderators.get(room_id, ())))
            for room_id in room_ids
        }

    def set_moderator(self, room: domain.Room, user_id: int, moderator: bool) -> None:
        if moderator:
            self.session.merge(RoomRole(room_id=room.id, user_id=user_id, role=MODERATOR))
        else:
            self.session.execute(
                delete(RoomRole).where(RoomRole.room_id == room.id, RoomRole.user_id == user_id)
            )
        self.session.commit()

    def set_topic(self, room: domain.Room, topic: str) -> None:
        self.session.execute(update(Room).where(Room.id == room.id).values(topic=topic))
        self.session.commit()

    def sanction(
        self, room: domain.Room, user_id: int, sanction: domain.Sanction, by_user_id: int | None
    ) -> None:
        # merge on the primary key (room, user, kind): a new ban replaces the earlier one
        self.session.merge(
            RoomSanction(
                room_id=room.id,
                user_id=user_id,
                kind=sanction.kind,
                until=sanction.until,
                reason=sanction.reason,
                by_user_id=by_user_id,
                created_at=domain.utc_now(),
            )
        )
        self.session.commit()

    def lift(self, room: domain.Room, user_id: int, kind: str) -> None:
        self.session.execute(
            delete(RoomSanction).where(
                RoomSanction.room_id == room.id,
                RoomSanction.user_id == user_id,
                RoomSanction.kind == kind,
            )
        )
        self.session.commit()

    def sanctions(self, room: domain.Room, user_id: int, now: datetime) -> list[domain.Sanction]:
        rows = self.session.execute(
            select(RoomSanction.kind, RoomSanction.until, RoomSanction.reason).where(
                RoomSanction.room_id == room.id,
                RoomSanction.user_id == user_id,
                or_(RoomSanction.until.is_(None), RoomSanction.until > now),
            )
        ).all()
        self.session.commit()
        return [domain.Sanction(kind, until, reason) for kind, until, reason in rows]
