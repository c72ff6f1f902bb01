"""Direct messages and blocks: opening a DM room, and what a block does to the two users."""

from . import rules
from .core import Core
from .errors import INVALID, NOT_FOUND, ChatError
from .models import DmOpened, Identity, JoinResult
from .rooms import RoomService
from .strangers import StrangerService


def dm_room_name(first_id: int, second_id: int) -> str:
    """The DM room of two users: `dm:<lower id>-<higher id>`."""
    low, high = sorted((first_id, second_id))
    return f"dm:{low}-{high}"


class DirectService:
    def __init__(self, core: Core, rooms: RoomService, strangers: StrangerService):
        self.core = core
        self.ports = core.ports
        self.rooms = rooms
        self.strangers = strangers

    def open(self, sid: str, username: str) -> JoinResult:
        """Open (or reopen) the DM room with `username`, join it, tell their connections."""
        identity = self.core.identity(sid)
        other_id, _ = self._other_user(identity, username)
        repository = self.ports.repository
        if other_id in repository.blocked_with(identity.user_id):
            raise rules.blocked()
        name = dm_room_name(identity.user_id, other_id)
        if repository.get_room(name) is None:
            room = repository.create_room(name, private=True)
            for user_id in sorted((identity.user_id, other_id)):
                repository.add_member(room, user_id)
        result = self.rooms.join(sid, name)
        if self._may_notify(identity.user_id, other_id):
            self.ports.broadcaster.notify(
                self.ports.presence.sids_of(other_id), DmOpened(name, identity.username)
            )
        return result

    def _may_notify(self, opener_id: int, target_id: int) -> bool:
        """At most one `dm_opened` per (opener, target) per `dm_notify_interval` seconds."""
        interval = self.core.limits.dm_notify_interval
        if interval <= 0:
            return True
        key = f"dm_opened:{opener_id}:{target_id}"
        return self.ports.limiter.hit(key, 1.0 / interval, 1) <= 0

    def block(self, sid: str, username: str) -> None:
        """Block a user: they are silenced in the two users' DM room, and a stranger pair
        with them ends."""
        identity = self.core.identity(sid)
        # the alias of the caller's current or most recent stranger names that stranger
        stranger = self.strangers.partner_by_alias(identity, username)
        if stranger is not None and stranger[0] == identity.user_id:
            raise ChatError(INVALID, "That is you.")
        other_id = stranger[0] if stranger else self._other_user(identity, username)[0]
        self.ports.repository.block(identity.user_id, other_id)
        self._silence(identity.user_id, other_id)
        pairing = self.ports.pairs.pairing_of(identity.user_id)
        if pairing is not None and pairing.partner.user_id == other_id:
            self.strangers.end_pair(identity.user_id)

    def unblock(self, sid: str, username: str) -> None:
        """Lift a block; with none left between the two, the other user may rejoin the DM."""
        identity = self.core.identity(sid)
        other_id, _ = self._other_user(identity, username)
        self.ports.repository.unblock(identity.user_id, other_id)
        if other_id not in self.ports.repository.blocked_with(identity.user_id):
            self._restore(identity.user_id, identity.username, other_id)

    def _silence(self, blocker_id: int, blocked_id: int) -> None:
        """Take the blocked user's connections out of the two users' DM room, telling no one
        (no `presence`, also none held for later): the blocker hears nothing more from them."""
        room = dm_room_name(blocker_id, blocked_id)
        presence = self.ports.presence
        for sid in presence.sids_of(blocked_id):
            if presence.in_room(sid, room):
                presence.exit(sid, room)
                self.ports.broadcaster.unsubscribe(sid, room)
        self.core.announce.forget(room, blocked_id)

    def _restore(self, unblocker_id: int, unblocker_name: str, other_id: int) -> None:
        """Undo `_silence`: the unblocked user's connections get `dm_opened` for the DM room
        (when it exists), which tells clients to join it again; none is put back unasked."""
        room = self.ports.repository.get_room(dm_room_name(unblocker_id, other_id))
        if room is None:
            return
        self.ports.broadcaster.notify(
            self.ports.presence.sids_of(other_id), DmOpened(room.name, unblocker_name)
        )

    def _other_user(self, identity: Identity, username: str) -> tuple[int, str]:
        other = self.ports.repository.user_by_name(rules.check_username(username))
        if other is None:
            raise ChatError(NOT_FOUND, f"There is no user named {username!r}.")
        if other[0] == identity.user_id:
            raise ChatError(INVALID, "That is you.")
        return other
