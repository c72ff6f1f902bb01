"""Moderation of public rooms: roles, the topic, kicks, bans and mutes, each audited."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import rules
from .core import Core
from .errors import FORBIDDEN, INVALID, NOT_FOUND, ChatError
from .models import (
    AuditRecord,
    Identity,
    Kicked,
    ListedSanction,
    Muted,
    Room,
    RoomUpdated,
    Sanction,
    Unmuted,
)
from .presence import LEFT
from .rooms import RoomService
from .standing import BAN, MODERATOR, MUTE, OWNER, RANKS

# The most bans and mutes one `sanctions` answer lists (the newest).
MAX_LISTED_SANCTIONS = 200


@dataclass(frozen=True, slots=True)
class _Act:
    """A moderation event's checked context: who acts, where, with which rank."""

    actor: Identity
    room: Room
    owner_id: int | None
    rank: str


class ModerationService:
    def __init__(self, core: Core, rooms: RoomService):
        self.core = core
        self.ports = core.ports
        self.standing = core.standing
        self.rooms = rooms

    # -- the events ------------------------------------------------------------------------

    def set_role(self, sid: str, room_name: str, username: str, role: str) -> None:
        """The owner or an admin makes a user a moderator or a member again; the room gets
        `room_updated`."""
        if role not in (MODERATOR, "member"):
            raise ChatError(INVALID, 'role is "moderator" or "member".')
        act = self._act(sid, room_name, OWNER)
        target_id, target_name = self._target(act, username)
        if target_id == act.owner_id:  # an admin outranks the owner, but ownership stays
            raise ChatError(FORBIDDEN, f"{target_name} owns #{act.room.name}: that role stays.")
        self.ports.moderation.set_moderator(act.room, target_id, role == MODERATOR)
        self._audit(act, "set_role", target_id, details={"role": role})
        self._room_updated(act)

    def set_topic(self, sid: str, room_name: str, topic: str) -> None:
        """A moderator and up sets the topic; the room gets `room_updated`."""
        topic = rules.check_topic(topic)
        act = self._act(sid, room_name, MODERATOR)
        self.ports.moderation.set_topic(act.room, topic)
        self._audit(act, "set_topic", details={"topic": topic})
        self._room_updated(act)

    def kick(self, sid: str, room_name: str, username: str, reason: str | None = None) -> None:
        """Every connection of the user leaves the room and is told (`kicked`)."""
        reason = rules.check_reason(reason)
        act = self._act(sid, room_name, MODERATOR)
        target_id, target_name = self._target(act, username)
        self._audit(act, "kick", target_id, reason)
        self._remove(act, target_id, target_name, Kicked(act.room.name, act.actor.username, reason))

    def ban(
        self,
        sid: str,
        room_name: str,
        username: str,
        minutes: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Kick the user and keep them out (no join, no post) for `minutes`, or until lifted."""
        minutes, reason = rules.check_minutes(minutes), rules.check_reason(reason)
        act = self._act(sid, room_name, MODERATOR)
        target_id, target_name = self._target(act, username)
        now = self.standing.now()
        until = self._until(now, minutes)
        self.ports.moderation.sanction(
            act.room, target_id, Sanction(BAN, until, reason, now), act.actor.user_id
        )
        self._audit(act, "ban", target_id, reason, self._duration(minutes, until))
        kicked = Kicked(act.room.name, act.actor.username, reason, banned=True, until=until)
        self._remove(act, target_id, target_name, kicked)

    def unban(self, sid: str, room_name: str, username: str) -> None:
        act = self._act(sid, room_name, MODERATOR)
        target_id, _ = self._target(act, username)
        self.ports.moderation.lift(act.room, target_id, BAN)
        self._audit(act, "unban", target_id)

    def mute(
        self, sid: str, room_name: str, username: str, minutes: int, reason: str | None = None
    ) -> None:
        """Silence the user in the room for `minutes`; they stay and read; told (`muted`)."""
        if minutes is None:
            raise ChatError(INVALID, "A mute needs minutes.")
        minutes, reason = rules.check_minutes(minutes), rules.check_reason(reason)
        act = self._act(sid, room_name, MODERATOR)
        target_id, _ = self._target(act, username)
        now = self.standing.now()
        until = self._until(now, minutes)
        self.ports.moderation.sanction(
            act.room, target_id, Sanction(MUTE, until, reason, now), act.actor.user_id
        )
        self._audit(act, "mute", target_id, reason, self._duration(minutes, until))
        self.ports.broadcaster.notify(
            self.ports.presence.sids_of(target_id),
            Muted(act.room.name, act.actor.username, until, reason),
        )

    def unmute(self, sid: str, room_name: str, username: str) -> None:
        act = self._act(sid, room_name, MODERATOR)
        target_id, _ = self._target(act, username)
        self.ports.moderation.lift(act.room, target_id, MUTE)
        self._audit(act, "unmute", target_id)
        self.ports.broadcaster.notify(
            self.ports.presence.sids_of(target_id), Unmuted(act.room.name)
        )

    def sanctions(self, sid: str, room_name: str) -> list[ListedSanction]:
        """For a moderator and up: the room's bans and mutes still on now, newest imposed
        first, at most MAX_LISTED_SANCTIONS. Only read: not audited."""
        act = self._act(sid, room_name, MODERATOR)
        return self.ports.moderation.listed_sanctions(
            act.room, self.standing.now(), MAX_LISTED_SANCTIONS
        )

    def may_delete(self, actor: Identity, room: Room, author_id: int) -> bool:
        """Whether `actor` may delete a message `author_id` wrote in `room`: their own, or
        anyone's as a moderator and up of a public room."""
        if actor.user_id == author_id:
            return True
        if room.private:
            return False
        owner_id = self.ports.moderation.owner_of(room)
        return RANKS[self.standing.rank(room, actor.user_id, owner_id)] >= RANKS[MODERATOR]

    # -- checks ----------------------------------------------------------------------------

    def _act(self, sid: str, room_name: str, needs: str) -> _Act:
        """The caller and the public room, once the caller's rank there is at least `needs`."""
        actor = self.core.identity(sid)
        name = rules.check_room_name(room_name)
        if rules.is_private_room_name(name):
            raise ChatError(FORBIDDEN, "Private rooms have no moderation.")
        room = self.ports.repository.get_room(name)
        if room is None:
            raise ChatError(NOT_FOUND, f"There is no room named {name!r}.")
        owner_id = self.ports.moderation.owner_of(room)
        rank = self.standing.rank(room, actor.user_id, owner_id)
        if RANKS[rank] < RANKS[needs]:
            who = "its owner or an admin" if needs == OWNER else "a moderator and up"
            raise ChatError(FORBIDDEN, f"Only {who} of #{name} may do that.")
        return _Act(actor, room, owner_id, rank)

    def _target(self, act: _Act, username: str) -> tuple[int, str]:
        """The user acted on, whose rank must be below the actor's (so never the actor)."""
        found = self.ports.repository.user_by_name(rules.check_username(username))
        if found is None:
            raise ChatError(NOT_FOUND, f"There is no user named {username!r}.")
        target_id, target_name = found
        if target_id == act.actor.user_id:
            raise ChatError(FORBIDDEN, "You cannot do that to yourself.")
        target_rank = self.standing.rank(act.room, target_id, act.owner_id)
        if RANKS[target_rank] >= RANKS[act.rank]:
            raise ChatError(
                FORBIDDEN, f"{target_name}'s role in #{act.room.name} is not below yours."
            )
        return found

    # -- effects ---------------------------------------------------------------------------

    def _remove(self, act: _Act, target_id: int, target_name: str, notice: Kicked) -> None:
        """Take every connection of the user out of the room (`presence` left once, as for
        a leave), on every process, then tell each of their connections why."""
        room, presence = act.room.name, self.ports.presence
        sids = presence.sids_of(target_id)
        user_left = False
        for sid in sids:
            if presence.in_room(sid, room):
                user_left = presence.exit(sid, room) or user_left
                self.ports.broadcaster.unsubscribe(sid, room)
        if user_left:
            self.core.announce.changed(room, target_id, target_name, LEFT, ())
        self.ports.broadcaster.notify(sids, notice)

    def _room_updated(self, act: _Act) -> None:
        room = self.ports.repository.get_room(act.room.name) or act.room
        summary = self.rooms.summary(room, act.actor)
        self.ports.broadcaster.to_room(RoomUpdated(summary), ())

    @staticmethod
    def _until(now: datetime, minutes: int | None) -> datetime | None:
        return None if minutes is None else now + timedelta(minutes=minutes)

    @staticmethod
    def _duration(minutes: int | None, until: datetime | None) -> dict:
        return {"minutes": minutes, "until": until.isoformat() if until else None}

    def _audit(
        self,
        act: _Act,
        action: str,
        target_id: int | None = None,
        reason: str | None = None,
        details: dict | None = None,
    ) -> None:
        self.ports.audit.record(
            AuditRecord(act.actor.user_id, action, target_id, act.room.name, reason, details)
        )
