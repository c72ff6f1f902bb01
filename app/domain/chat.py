"""The chat service: joining rooms, posting, typing, history and presence."""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from . import rules
from .budgets import Budgets, Throttle
from .direct import DmSilence, dm_room_name
from .errors import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    NOT_IN_ROOM,
    RATE_LIMITED,
    UNAUTHORIZED,
    ChatError,
)
from .models import Identity, Message, Room, Seat, utc_now
from .ports import (
    Broadcaster,
    ChatRepository,
    PairStore,
    PresenceStore,
    RateLimiter,
    RoomLocks,
    Scheduler,
)
from .presence import JOINED, LEFT, PresenceCoalescer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """Tunable numbers of the protocol; defaults are protocol v1's."""

    join_page: int = 50
    catch_up_max: int = 500
    history_default: int = 50
    history_max: int = 100
    # Refusals a user may ignore (refilled at 1/s) before their flooding connection is closed.
    flood_strikes: int = 20
    # How long a paired stranger may be disconnected before the partner is told they left.
    pair_grace_seconds: float = 10.0
    # Every other event's buckets, and new public rooms per hour (app/domain/budgets.py).
    budgets: Budgets = field(default_factory=Budgets)
    # Seconds between two `presence` broadcasts of one user in one room (0: no coalescing).
    presence_coalesce: float = 2.0
    # A user is sent `dm_opened` by the same opener at most once in this many seconds.
    dm_notify_interval: float = 60.0
    rooms_page_max: int = 100


@dataclass(frozen=True, slots=True)
class JoinResult:
    room: Room
    members: list[str]
    messages: list[Message]
    has_more: bool


class ChatService:
    """Every socket event ends up here; the transport only validates shapes and emits."""

    def __init__(
        self,
        repository: ChatRepository,
        presence: PresenceStore,
        broadcaster: Broadcaster,
        locks: RoomLocks,
        limiter: RateLimiter,
        limits: Limits | None = None,
        *,
        pairs: PairStore,
        scheduler: Scheduler,
        clock: Callable[[], datetime] = utc_now,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.repository = repository
        self.presence = presence
        self.broadcaster = broadcaster
        self.locks = locks
        self.limiter = limiter
        self.limits = limits or Limits()
        self.pairs = pairs
        self.scheduler = scheduler
        self.clock = clock
        self.wall_clock = wall_clock
        self.throttle = Throttle(limiter, self.limits.budgets, self.limits.flood_strikes)
        self.announce = PresenceCoalescer(
            broadcaster,
            scheduler,
            self.limits.presence_coalesce,
            wall_clock,
            present=self._present,
            sids_of=presence.sids_of,
        )
        self.dm_silence = DmSilence(repository, presence, broadcaster, self.announce)

    # -- connections ---------------------------------------------------------------------

    def connect(self, sid: str, identity: Identity, max_connections: int = 0) -> bool:
        """Register a connection; False (nothing registered) when the user already has
        `max_connections` (> 0) open, in every process together."""
        return self.presence.add_connection(sid, identity, max_connections)

    def disconnect(self, sid: str) -> None:
        identity, rooms = self.presence.remove_connection(sid)
        if identity is None:
            return
        for room, user_left in rooms:
            self.broadcaster.unsubscribe(sid, room)
            if user_left:
                self.announce.changed(room, identity.user_id, identity.username, LEFT, ())
        self.pairs.leave_queue(identity.user_id, sid)
        pairing = self.pairs.pairing_of(identity.user_id)
        if pairing is not None and not self._present(identity.user_id, pairing.room):
            self.scheduler.call_later(
                self.limits.pair_grace_seconds,
                self._end_pair_if_gone,
                identity.user_id,
                pairing.room,
            )

    def charge(self, sid: str, event: str | None) -> Identity:
        """Authenticate `sid` and charge `event` to its user's budgets (`rate_limited` when
        over); unknown event names (None) are charged to the shared `events` bucket only."""
        identity = self.identity(sid)
        self.throttle.event(identity.user_id, event)
        return identity

    def identity(self, sid: str) -> Identity:
        identity = self.presence.identity(sid)
        if identity is None:
            raise ChatError(UNAUTHORIZED, "This connection is not signed in.")
        if identity.expires_at is not None and self.wall_clock() >= identity.expires_at:
            raise ChatError(UNAUTHORIZED, "Your token has expired; reconnect with a new one.")
        return identity

    # -- rooms ---------------------------------------------------------------------------

    def rooms(
        self, sid: str, after: str | None = None, limit: int | None = None
    ) -> tuple[list[dict], str | None]:
        """A page of public rooms by name (those after `after`, at most `limit`), then on the
        first page the caller's DM rooms; and the name to pass as `after` next, or None."""
        identity = self.identity(sid)
        limit = min(limit or self.limits.rooms_page_max, self.limits.rooms_page_max)
        public = self.repository.list_public_rooms(after=after, limit=limit + 1)
        more = len(public) > limit
        listed: list[tuple[Room, str | None]] = [(room, None) for room in public[:limit]]
        if after is None:
            listed += self.repository.direct_rooms_of(identity.user_id)
        online = self.presence.online_counts([room.name for room, _ in listed])
        page = [
            {
                "name": room.name,
                "topic": room.topic,
                "online": online.get(room.name, 0),
                "last_message_id": room.last_message_id,
                "kind": room.kind,
                **({"with": other} if other else {}),
            }
            for room, other in listed
        ]
        return page, public[limit - 1].name if more else None

    def summary(self, room: Room, identity: Identity) -> dict:
        """A room as `identity` sees it: private rooms also name the other member."""
        summary = {"name": room.name, "topic": room.topic, "kind": room.kind}
        if room.private:
            other = self.repository.other_member(room, identity.user_id)
            summary["with"] = other[1] if other else None
        if room.kind == "pair":
            # a page coming back after the pair ended learns it here, not on its next send
            pairing = self.pairs.pairing_of(identity.user_id)
            summary["active"] = pairing is not None and pairing.room == room.name
        return summary

    def join(self, sid: str, room_name: str, since: int | None = None) -> JoinResult:
        identity = self.identity(sid)
        room = self._room_for(identity, rules.check_room_name(room_name), create=True)
        if room.kind == "dm":
            self._refuse_if_blocked(identity, room)
        # Under the room lock no message can be stored without also being broadcast, so
        # the page read here and the broadcasts that follow neither overlap nor leave a gap.
        with self.locks(room.name):
            newly_present = self.presence.enter(sid, room.name)
            self.broadcaster.subscribe(sid, room.name)
            if since is None:
                messages, has_more = self.repository.latest(room, self.limits.join_page)
            else:
                messages, has_more = self.repository.after(room, since, self.limits.catch_up_max)
            # with no message to go by: nothing newer than `since`, or an empty room
            upto = messages[-1].id if messages else min(since or 0, room.last_message_id or 0)
            self.broadcaster.caught_up(sid, room.name, upto)
        if newly_present:
            self.announce.changed(room.name, identity.user_id, identity.username, JOINED, (sid,))
        return JoinResult(room, self.presence.members(room.name), messages, has_more)

    def leave(self, sid: str, room_name: str) -> None:
        identity = self.identity(sid)
        room_name = rules.check_room_name(room_name)
        self._require_in_room(sid, room_name)
        user_left = self.presence.exit(sid, room_name)
        self.broadcaster.unsubscribe(sid, room_name)
        if user_left:
            self.announce.changed(room_name, identity.user_id, identity.username, LEFT, ())

    # -- messages ------------------------------------------------------------------------

    def post(self, sid: str, room_name: str, text: str, client_id: str | None = None) -> Message:
        identity = self.identity(sid)
        room_name = rules.check_room_name(room_name)
        text = rules.check_text(text)
        client_id = rules.check_client_id(client_id)
        self._require_private_member(identity, room_name)
        if not self.presence.in_room(sid, room_name):
            # a user taken out of a DM by a block learns why (blocks are checked in _store)
            if rules.is_private_room_name(room_name):
                self._require_private_member(identity, room_name, speaking=True)
            self._require_in_room(sid, room_name)
        room = self.repository.known_room(room_name)
        if room is None:  # deleted while the connection sat in it
            raise ChatError(NOT_FOUND, f"Room {room_name!r} no longer exists.")
        return self._store(identity, room, text, client_id)[0]

    def post_as(
        self, identity: Identity, room_name: str, text: str, client_id: str | None = None
    ) -> tuple[Message, bool]:
        """Post with no connection (HTTP API, CLI): the room must already exist and need not
        be joined. Returns the message and True, or the original of a retry and False."""
        room_name = rules.check_room_name(room_name)
        text = rules.check_text(text)
        client_id = rules.check_client_id(client_id)
        room = self._room_for(identity, room_name, create=False)
        try:
            return self._store(identity, room, text, client_id)
        except ChatError as refused:
            if not refused.disconnect:
                raise
            # Out of strikes means "close the flooding connection", and there is none here.
            raise ChatError(
                RATE_LIMITED,
                f"You are sending too fast; try again in {refused.retry_after:.1f} s.",
                retry_after=refused.retry_after,
            ) from None

    def _store(
        self, identity: Identity, room: Room, text: str, client_id: str | None
    ) -> tuple[Message, bool]:
        """Store and broadcast a checked message (True), or find the original of a retry."""
        if room.private:
            self._check_private_post(identity, room)
        now = self.clock()
        try:
            self.throttle.bucket(identity.user_id, "message")
        except ChatError:
            # A retry of a message already stored is answered even while throttled; the
            # lookup is paid only on this refused path, not by every message.
            original = (
                self.repository.find_by_client_id(room, identity.user_id, client_id)
                if client_id
                else None
            )
            if original is None:
                raise
            return original, False
        with self.locks(room.name):
            # a retry (same client_id) comes back as the stored original, not stored again
            message, created = self.repository.add_message(room, identity, text, client_id, now)
            if created:
                self.broadcaster.message(message)
        return message, created

    def typing(self, sid: str, room_name: str, typing: bool) -> None:
        identity = self.identity(sid)
        room_name = rules.check_room_name(room_name)
        self._require_private_member(identity, room_name, speaking=True)
        self._require_in_room(sid, room_name)
        self.throttle.bucket(identity.user_id, "typing")
        self.broadcaster.typing(
            room_name, identity.username, typing, self.presence.sids_of(identity.user_id)
        )

    def history(
        self, sid: str, room_name: str, before: int | None = None, limit: int | None = None
    ) -> tuple[list[Message], bool]:
        identity = self.identity(sid)
        room = self._room_for(identity, rules.check_room_name(room_name), create=False)
        limit = min(limit or self.limits.history_default, self.limits.history_max)
        if before is None:
            return self.repository.latest(room, limit)
        return self.repository.before(room, before, limit)

    def messages_between(self, room_name: str, after: int, upto: int) -> list[dict]:
        """Stored messages with `after` < id <= `upto`, as broadcast: a message whose
        broadcast from another process has not arrived yet, read back to keep id order."""
        room = self.repository.get_room(room_name)
        if room is None or upto <= after:
            return []
        messages, _ = self.repository.after(room, after, upto - after)
        return [message.to_dict() for message in messages if message.id <= upto]

    # -- direct messages and stranger chat ----------------------------------------------

    def direct(self, sid: str, username: str) -> JoinResult:
        """Open (or reopen) the DM room with `username`, join it, tell their connections."""
        identity = self.identity(sid)
        other_id, other_name = self._other_user(identity, username)
        if other_id in self.repository.blocked_with(identity.user_id):
            raise ChatError(FORBIDDEN, "One of you has blocked the other.")
        name = dm_room_name(identity.user_id, other_id)
        if self.repository.get_room(name) is None:
            room = self.repository.create_room(name, private=True)
            for user_id in sorted((identity.user_id, other_id)):
                self.repository.add_member(room, user_id)
        result = self.join(sid, name)
        if self._may_notify_dm(identity.user_id, other_id):
            self.broadcaster.notify(
                self.presence.sids_of(other_id),
                "dm_opened",
                {"room": name, "user": identity.username},
            )
        return result

    def _may_notify_dm(self, opener_id: int, target_id: int) -> bool:
        """At most one `dm_opened` per (opener, target) per `dm_notify_interval` seconds."""
        interval = self.limits.dm_notify_interval
        if interval <= 0:
            return True
        return self.limiter.hit(f"dm_opened:{opener_id}:{target_id}", 1.0 / interval, 1) <= 0

    def find_partner(self, sid: str) -> dict:
        identity = self.identity(sid)
        if self.pairs.pairing_of(identity.user_id) is not None:
            self._end_pair(identity.user_id)  # "Next"
        me = Seat(identity.user_id, identity.username, sid)
        room_name = f"pair:{uuid.uuid4().hex}"
        partner = self.pairs.match(me, self.repository.blocked_with(identity.user_id), room_name)
        if partner is None:
            return {"status": "waiting"}
        room = self.repository.create_room(room_name, private=True)
        for seat, other in ((me, partner), (partner, me)):
            self.repository.add_member(room, seat.user_id)
            if self.presence.identity(seat.sid) is not None:  # still connected
                self.presence.enter(seat.sid, room_name)
                self.broadcaster.subscribe(seat.sid, room_name)
            self.broadcaster.notify(
                [seat.sid], "partner_found", {"room": room_name, "partner": other.username}
            )
        return {"status": "paired", "room": room_name, "partner": partner.username}

    def leave_partner(self, sid: str) -> None:
        identity = self.identity(sid)
        self.pairs.leave_queue(identity.user_id)
        self._end_pair(identity.user_id)

    def block(self, sid: str, username: str) -> None:
        identity = self.identity(sid)
        other_id, _ = self._other_user(identity, username)
        self.repository.block(identity.user_id, other_id)
        self.dm_silence.silence(identity.user_id, other_id)
        pairing = self.pairs.pairing_of(identity.user_id)
        if pairing is not None and pairing.partner.user_id == other_id:
            self._end_pair(identity.user_id)

    def unblock(self, sid: str, username: str) -> None:
        identity = self.identity(sid)
        other_id, _ = self._other_user(identity, username)
        self.repository.unblock(identity.user_id, other_id)
        if other_id not in self.repository.blocked_with(identity.user_id):
            self.dm_silence.restore(identity.user_id, identity.username, other_id)

    def _end_pair(self, user_id: int) -> None:
        pairing = self.pairs.end_pair(user_id)
        if pairing is not None:
            self.broadcaster.notify(
                self.presence.sids_of(pairing.partner.user_id),
                "partner_left",
                {"room": pairing.room},
            )

    def _end_pair_if_gone(self, user_id: int, room: str) -> None:
        pairing = self.pairs.pairing_of(user_id)
        if pairing is not None and pairing.room == room and not self._present(user_id, room):
            self._end_pair(user_id)

    def _present(self, user_id: int, room: str) -> bool:
        return any(self.presence.in_room(sid, room) for sid in self.presence.sids_of(user_id))

    def _other_user(self, identity: Identity, username: str) -> tuple[int, str]:
        other = self.repository.user_by_name(rules.check_username(username))
        if other is None:
            raise ChatError(NOT_FOUND, f"There is no user named {username!r}.")
        if other[0] == identity.user_id:
            raise ChatError(INVALID, "That is you.")
        return other

    def _check_private_post(self, identity: Identity, room: Room) -> None:
        if room.kind == "pair":
            pairing = self.pairs.pairing_of(identity.user_id)
            if pairing is None or pairing.room != room.name:
                raise ChatError(FORBIDDEN, "This conversation has ended.")
        else:
            self._refuse_if_blocked(identity, room)

    def _refuse_if_blocked(self, identity: Identity, room: Room) -> None:
        """A DM whose other member blocked this user, or was blocked by them: `forbidden`."""
        other = self.repository.other_member(room, identity.user_id)
        if other and other[0] in self.repository.blocked_with(identity.user_id):
            raise ChatError(FORBIDDEN, "One of you has blocked the other.")

    # -- helpers -------------------------------------------------------------------------

    def _room_for(self, identity: Identity, name: str, *, create: bool) -> Room:
        room = self.repository.get_room(name)
        if rules.is_private_room_name(name):
            if room is None or not self.repository.is_member(room, identity.user_id):
                raise rules.forbidden_room()
            return room
        if room is None:
            if not create:
                raise ChatError(NOT_FOUND, f"There is no room named {name!r}.")
            self.throttle.bucket(identity.user_id, "room_create")
            room = self.repository.create_room(name, created_by=identity.user_id)
        return room

    def _require_private_member(
        self, identity: Identity, room_name: str, *, speaking: bool = False
    ) -> None:
        """Outsiders of a private room get `forbidden`; so does a `speaking` (posting,
        typing) member of a DM where one of the two blocked the other."""
        if rules.is_private_room_name(room_name):
            room = self._room_for(identity, room_name, create=False)
            if speaking and room.kind == "dm":
                self._refuse_if_blocked(identity, room)

    def _require_in_room(self, sid: str, room_name: str) -> None:
        if not self.presence.in_room(sid, room_name):
            raise ChatError(NOT_IN_ROOM, f"Join {room_name!r} first.")
