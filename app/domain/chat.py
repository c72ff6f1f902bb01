"""The chat service: joining rooms, posting, typing, history and presence."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import rules
from .errors import NOT_FOUND, NOT_IN_ROOM, RATE_LIMITED, UNAUTHORIZED, ChatError
from .models import Identity, Message, Room, utc_now
from .ports import Broadcaster, ChatRepository, PresenceStore, RateLimiter, RoomLocks

log = logging.getLogger(__name__)

JOINED = "joined"
LEFT = "left"


@dataclass(frozen=True, slots=True)
class Limits:
    """Tunable numbers of the protocol; defaults are protocol v1's."""

    join_page: int = 50
    catch_up_max: int = 500
    history_default: int = 50
    history_max: int = 100
    message_rate: float = 10.0
    message_burst: int = 20
    typing_rate: float = 5.0
    typing_burst: int = 10
    # Refusals a user may ignore (refilled at 1/s) before their flooding connection is closed.
    flood_strikes: int = 20
    idempotency_window: timedelta = timedelta(hours=24)


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
        clock: Callable[[], datetime] = utc_now,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.repository = repository
        self.presence = presence
        self.broadcaster = broadcaster
        self.locks = locks
        self.limiter = limiter
        self.limits = limits or Limits()
        self.clock = clock
        self.wall_clock = wall_clock

    # -- connections ---------------------------------------------------------------------

    def connect(self, sid: str, identity: Identity) -> None:
        self.presence.add_connection(sid, identity)

    def disconnect(self, sid: str) -> None:
        identity, rooms = self.presence.remove_connection(sid)
        if identity is None:
            return
        for room, user_left in rooms:
            self.broadcaster.unsubscribe(sid, room)
            if user_left:
                self.broadcaster.presence(room, identity.username, LEFT, ())

    def identity(self, sid: str) -> Identity:
        identity = self.presence.identity(sid)
        if identity is None:
            raise ChatError(UNAUTHORIZED, "This connection is not signed in.")
        if identity.expires_at is not None and self.wall_clock() >= identity.expires_at:
            raise ChatError(UNAUTHORIZED, "Your token has expired; reconnect with a new one.")
        return identity

    # -- rooms ---------------------------------------------------------------------------

    def rooms(self, sid: str) -> list[dict]:
        self.identity(sid)
        return [
            {
                "name": room.name,
                "topic": room.topic,
                "online": self.presence.online_count(room.name),
                "last_message_id": room.last_message_id,
            }
            for room in self.repository.list_public_rooms()
        ]

    def join(self, sid: str, room_name: str, since: int | None = None) -> JoinResult:
        identity = self.identity(sid)
        room = self._room_for(identity, rules.check_room_name(room_name), create=True)
        # Under the room lock no message can be stored without also being broadcast, so
        # the page read here and the broadcasts that follow neither overlap nor leave a gap.
        with self.locks(room.name):
            newly_present = self.presence.enter(sid, room.name)
            self.broadcaster.subscribe(sid, room.name)
            if since is None:
                messages, has_more = self.repository.latest(room, self.limits.join_page)
            else:
                messages, has_more = self.repository.after(room, since, self.limits.catch_up_max)
        if newly_present:
            self.broadcaster.presence(room.name, identity.username, JOINED, (sid,))
        return JoinResult(room, self.presence.members(room.name), messages, has_more)

    def leave(self, sid: str, room_name: str) -> None:
        identity = self.identity(sid)
        room_name = rules.check_room_name(room_name)
        self._require_in_room(sid, room_name)
        user_left = self.presence.exit(sid, room_name)
        self.broadcaster.unsubscribe(sid, room_name)
        if user_left:
            self.broadcaster.presence(room_name, identity.username, LEFT, ())

    # -- messages ------------------------------------------------------------------------

    def post(self, sid: str, room_name: str, text: str, client_id: str | None = None) -> Message:
        identity = self.identity(sid)
        room_name = rules.check_room_name(room_name)
        text = rules.check_text(text)
        client_id = rules.check_client_id(client_id)
        self._require_in_room(sid, room_name)
        room = self.repository.get_room(room_name)
        if room is None:  # deleted while the connection sat in it
            raise ChatError(NOT_FOUND, f"Room {room_name!r} no longer exists.")
        now = self.clock()
        try:
            self._throttle(
                f"message:{identity.user_id}",
                self.limits.message_rate,
                self.limits.message_burst,
                identity.user_id,
            )
        except ChatError:
            # A retry of a message already stored is answered even while throttled; the
            # lookup is paid only on this refused path, not by every message.
            original = self._original(room, identity, client_id, now)
            if original is None:
                raise
            return original
        with self.locks(room.name):
            original = self._original(room, identity, client_id, now)
            if original is not None:
                return original
            message = self.repository.add_message(room, identity, text, client_id, now)
            self.broadcaster.message(message)
        return message

    def _original(
        self, room: Room, identity: Identity, client_id: str | None, now: datetime
    ) -> Message | None:
        """The message this user already stored in `room` under `client_id`, if recent."""
        if client_id is None:
            return None
        return self.repository.find_by_client_id(
            room, identity.user_id, client_id, now - self.limits.idempotency_window
        )

    def typing(self, sid: str, room_name: str, typing: bool) -> None:
        identity = self.identity(sid)
        room_name = rules.check_room_name(room_name)
        self._require_in_room(sid, room_name)
        self._throttle(
            f"typing:{identity.user_id}",
            self.limits.typing_rate,
            self.limits.typing_burst,
            identity.user_id,
        )
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
            room = self.repository.create_room(name, created_by=identity.user_id)
        return room

    def _require_in_room(self, sid: str, room_name: str) -> None:
        if not self.presence.in_room(sid, room_name):
            raise ChatError(NOT_IN_ROOM, f"Join {room_name!r} first.")

    def _throttle(self, key: str, rate: float, burst: int, user_id: int) -> None:
        retry_after = self.limiter.hit(key, rate, burst)
        if retry_after <= 0:
            return
        out_of_strikes = self.limiter.hit(f"strikes:{user_id}", 1.0, self.limits.flood_strikes) > 0
        raise ChatError(
            RATE_LIMITED,
            "You keep sending too fast; this connection is being closed."
            if out_of_strikes
            else f"You are sending too fast; try again in {retry_after:.1f} s.",
            retry_after=round(retry_after, 3),
            disconnect=out_of_strikes,
        )
