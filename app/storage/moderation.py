"""Room staff and sanctions in SQL: admins, owners, moderators, bans and mutes."""

from datetime import datetime

from sqlalchemy import DateTime, cast, delete, exists, literal, null, or_, select, union_all, update
from sqlalchemy.orm import aliased

from ..domain import models as domain
from .models import Room, RoomRole, RoomSanction, User
from .sql import AnySession

MODERATOR = "moderator"
MUTE = "mute"


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

    def staff(
        self, room_ids: list[int], viewer_id: int | None = None, now: datetime | None = None
    ) -> tuple[dict[int, tuple[str | None, tuple[str, ...]]], bool, dict[int, datetime]]:
        """One query for any number of rooms: the owners, the moderators, (a row when it is
        set) the viewer's admin flag and, given `now`, the viewer's mutes still on then, as one
        UNION ALL."""
        # typed in the first part: the union's column takes its type (SQLite needs it to
        # read the mutes' ends back as datetimes)
        no_end = cast(null(), DateTime).label("until")
        owners = select(
            Room.id, User.username, User.username_key, literal("owner").label("kind"), no_end
        ).join(User, User.id == Room.created_by)
        moderators = select(
            RoomRole.room_id, User.username, User.username_key, literal(MODERATOR), no_end
        ).join(User, User.id == RoomRole.user_id)
        parts = [
            owners.where(Room.id.in_(room_ids)),
            moderators.where(RoomRole.room_id.in_(room_ids), RoomRole.role == MODERATOR),
        ]
        if viewer_id is not None:
            parts.append(
                select(null(), User.username, User.username_key, literal("admin"), no_end).where(
                    User.id == viewer_id, User.is_admin
                )
            )
            if now is not None:
                parts.append(
                    select(
                        RoomSanction.room_id, null(), null(), literal(MUTE), RoomSanction.until
                    ).where(
                        RoomSanction.room_id.in_(room_ids),
                        RoomSanction.user_id == viewer_id,
                        RoomSanction.kind == MUTE,
                        RoomSanction.until > now,
                    )
                )
        everyone = union_all(*parts).subquery()
        rows = self.session.execute(select(everyone).order_by(everyone.c.username_key)).all()
        self.session.commit()
        found: dict[int, tuple[str | None, list[str]]] = {i: (None, []) for i in room_ids}
        admin = False
        muted: dict[int, datetime] = {}
        for room_id, username, _, kind, until in rows:
            if kind == "admin":
                admin = True
            elif kind == MUTE:
                muted[room_id] = until
            elif kind == "owner":
                found[room_id] = (username, found[room_id][1])
            else:
                found[room_id][1].append(username)
        staff = {i: (owner, tuple(mods)) for i, (owner, mods) in found.items()}
        return staff, admin, muted

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
                created_at=sanction.at or domain.utc_now(),
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

    def listed_sanctions(
        self, room: domain.Room, now: datetime, limit: int
    ) -> list[domain.ListedSanction]:
        target, moderator = aliased(User), aliased(User)
        rows = self.session.execute(
            select(
                target.username,
                RoomSanction.kind,
                RoomSanction.until,
                RoomSanction.reason,
                moderator.username,
                RoomSanction.created_at,
            )
            .join(target, target.id == RoomSanction.user_id)
            # the moderator's account may be gone: then `by` is None
            .outerjoin(moderator, moderator.id == RoomSanction.by_user_id)
            .where(
                RoomSanction.room_id == room.id,
                or_(RoomSanction.until.is_(None), RoomSanction.until > now),
            )
            # ties (one millisecond) in a stable order: by name, bans before mutes
            .order_by(RoomSanction.created_at.desc(), target.username_key, RoomSanction.kind)
            .limit(limit)
        ).all()
        self.session.commit()
        return [domain.ListedSanction(*row) for row in rows]
