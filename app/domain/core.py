"""What every chat service shares: the ports, the limits, and who may do what in which room."""

from . import rules
from .budgets import Throttle
from .errors import NOT_FOUND, NOT_IN_ROOM, UNAUTHORIZED, ChatError
from .limits import Limits
from .models import Identity, Room
from .ports import Ports
from .presence import PresenceCoalescer
from .standing import Standing


class Core:
    """The shared part of the chat services (app/domain/services.py): the ports, the limits,
    the user's budgets (`throttle`), presence announcements, and the checks several features
    make (a live identity, a room one may enter, a DM neither member blocked)."""

    def __init__(self, ports: Ports, limits: Limits | None = None):
        self.ports = ports
        self.limits = limits or Limits()
        self.throttle = Throttle(ports.limiter, self.limits.budgets, self.limits.flood_strikes)
        self.announce = PresenceCoalescer(
            ports.broadcaster,
            ports.scheduler,
            self.limits.presence_coalesce,
            ports.wall_clock,
            present=self.present,
            sids_of=ports.presence.sids_of,
        )
        # roles and sanctions in public rooms (who runs them, who is banned or muted)
        self.standing = Standing(ports)

    def identity(self, sid: str) -> Identity:
        """Who is behind `sid`; `unauthorized` when no one is, or their token has expired."""
        identity = self.ports.presence.identity(sid)
        if identity is None:
            raise ChatError(UNAUTHORIZED, "This connection is not signed in.")
        if identity.expires_at is not None and self.ports.wall_clock() >= identity.expires_at:
            raise ChatError(UNAUTHORIZED, "Your token has expired; reconnect with a new one.")
        return identity

    def present(self, user_id: int, room: str) -> bool:
        """Whether any connection of the user is in `room`."""
        presence = self.ports.presence
        return any(presence.in_room(sid, room) for sid in presence.sids_of(user_id))

    def room_for(self, identity: Identity, name: str, *, create: bool) -> Room:
        """The room `name` as `identity` may use it: a private one only for its members
        (`forbidden`, missing or not), a public one created when `create` (charged to the
        room-creation budget), else `not_found`."""
        repository = self.ports.repository
        room = repository.get_room(name)
        if rules.is_private_room_name(name):
            if room is None or not repository.is_member(room, identity.user_id):
                raise rules.forbidden_room()
            return room
        if room is None:
            if not create:
                raise ChatError(NOT_FOUND, f"There is no room named {name!r}.")
            self.throttle.bucket(identity.user_id, "room_create")
            room = repository.create_room(name, created_by=identity.user_id)
        return room

    def require_private_member(
        self, identity: Identity, room_name: str, *, speaking: bool = False
    ) -> None:
        """Outsiders of a private room get `forbidden`; so does a `speaking` (posting,
        typing) member of a DM where one of the two blocked the other."""
        if rules.is_private_room_name(room_name):
            room = self.room_for(identity, room_name, create=False)
            if speaking and room.kind == "dm":
                self.refuse_if_blocked(identity, room)

    def refuse_if_blocked(self, identity: Identity, room: Room) -> None:
        """A DM whose other member blocked this user, or was blocked by them: `forbidden`."""
        repository = self.ports.repository
        other = repository.other_member(room, identity.user_id)
        if other and other[0] in repository.blocked_with(identity.user_id):
            raise rules.blocked()

    def require_in_room(self, sid: str, room_name: str) -> None:
        """`not_in_room` unless this connection has joined `room_name`."""
        if not self.ports.presence.in_room(sid, room_name):
            raise ChatError(NOT_IN_ROOM, f"Join {room_name!r} first.")
