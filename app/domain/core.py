"""What every chat service shares: the ports, the limits, and who may do what in which room."""

from collections.abc import Callable
from dataclasses import replace

from . import rules
from .aliases import AliasBook, PairNames
from .budgets import Throttle
from .errors import FORBIDDEN, NOT_FOUND, NOT_IN_ROOM, UNAUTHORIZED, ChatError
from .limits import Limits
from .models import Identity, Message, Room
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
        self.aliases = AliasBook(ports.alias_key)
        # roles and sanctions in public rooms (who runs them, who is banned or muted)
        self.standing = Standing(ports)

    def identity(self, sid: str) -> Identity:
        """Who is behind `sid`; `unauthorized` when no one is, their token has expired, or
        their account was suspended (read from the connection's identity like the expiry:
        no database query per event)."""
        identity = self.ports.presence.identity(sid)
        if identity is None:
            raise ChatError(UNAUTHORIZED, "This connection is not signed in.")
        if identity.suspended:
            raise ChatError(UNAUTHORIZED, "This account is suspended.")
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

    def room_to_speak(self, sid: str, identity: Identity, room_name: str) -> Room:
        """The room a connection posts or changes messages in: a private room's outsiders
        get `forbidden`; a connection that has not joined it `not_in_room`, unless a ban or
        a block is why (then `forbidden`, saying so); `not_found` for a room deleted while
        the connection sat in it."""
        self.require_private_member(identity, room_name)
        repository = self.ports.repository
        if not self.ports.presence.in_room(sid, room_name):
            # a user taken out of a DM by a block learns why (blocks are checked again later)
            if rules.is_private_room_name(room_name):
                self.require_private_member(identity, room_name, speaking=True)
            elif (banned_from := repository.known_room(room_name)) is not None:
                # a kicked, banned user learns why rather than "join first"
                self.standing.refuse_if_banned(identity, banned_from)
            self.require_in_room(sid, room_name)
        room = repository.known_room(room_name)
        if room is None:  # deleted while the connection sat in it
            raise ChatError(NOT_FOUND, f"Room {room_name!r} no longer exists.")
        return room

    def check_private_post(self, identity: Identity, room: Room) -> None:
        """`forbidden` for an ended stranger pair or a blocked DM. A live pair's aliases are
        learnt from its pairing (no query) before anything is stored: the broadcast of what
        follows names the two by alias."""
        if room.kind == "pair":
            pairing = self.ports.pairs.pairing_of(identity.user_id)
            if pairing is None or pairing.room != room.name:
                raise ChatError(FORBIDDEN, "This conversation has ended.")
            partner = pairing.partner
            members = [(identity.user_id, identity.username), (partner.user_id, partner.username)]
            self.pair_names(room.name, members)
            return
        self.refuse_if_blocked(identity, room)

    def require_in_room(self, sid: str, room_name: str) -> None:
        """`not_in_room` unless this connection has joined `room_name`."""
        if not self.ports.presence.in_room(sid, room_name):
            raise ChatError(NOT_IN_ROOM, f"Join {room_name!r} first.")

    # -- stranger aliases: everything about a pair room names its users by alias ----------

    def pair_names(self, room_name: str, members: list[tuple[int, str]] | None = None) -> PairNames:
        """The aliases of a pair room's two users; `members` (id, username) when the caller
        knows them (no query), else read once and remembered."""
        names = self.aliases.cached(room_name)
        if names is not None:
            return names
        if members is None:
            room = self.ports.repository.known_room(room_name)
            members = self.ports.repository.room_members(room) if room is not None else []
        return self.aliases.names(room_name, members)

    def name_in(self, room_name: str, identity: Identity) -> str:
        """How `identity` appears in a room: its alias in a pair room, else its username."""
        if not room_name.startswith("pair:"):
            return identity.username
        return self.pair_names(room_name).of_id(identity.user_id)

    def shown(self, room_name: str, messages: list[Message]) -> list[Message]:
        """Messages as clients see them: in a pair room, every name in them by alias."""
        if not room_name.startswith("pair:") or not messages:
            return messages
        names = self.pair_names(room_name)
        return [_aliased(message, names.of_name) for message in messages]


def _aliased(message: Message, alias: Callable[[str], str]) -> Message:
    """A pair room's message with every username in it (author, quoted author, reacting
    users) replaced by its alias."""
    quote = message.reply_to
    reactions = tuple(
        (emoji, tuple(sorted((alias(user) for user in users), key=str.casefold)))
        for emoji, users in message.reactions
    )
    return replace(
        message,
        user=alias(message.user),
        reply_to=None if quote is None else replace(quote, user=alias(quote.user)),
        reactions=reactions,
    )
