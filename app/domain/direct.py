"""What a block does to the two users' direct-message room: silence there, and its undoing."""

from .ports import Broadcaster, ChatRepository, PresenceStore
from .presence import PresenceCoalescer


def dm_room_name(first_id: int, second_id: int) -> str:
    """The DM room of two users: `dm:<lower id>-<higher id>`."""
    low, high = sorted((first_id, second_id))
    return f"dm:{low}-{high}"


class DmSilence:
    def __init__(
        self,
        repository: ChatRepository,
        presence: PresenceStore,
        broadcaster: Broadcaster,
        announce: PresenceCoalescer,
    ):
        self.repository = repository
        self.presence = presence
        self.broadcaster = broadcaster
        self.announce = announce

    def silence(self, blocker_id: int, blocked_id: int) -> None:
        """Take the blocked user's connections out of the two users' DM room, telling no one
        (no `presence`, also none held for later): the blocker hears nothing more from them."""
        room = dm_room_name(blocker_id, blocked_id)
        for sid in self.presence.sids_of(blocked_id):
            if self.presence.in_room(sid, room):
                self.presence.exit(sid, room)
                self.broadcaster.unsubscribe(sid, room)
        self.announce.forget(room, blocked_id)

    def restore(self, unblocker_id: int, unblocker_name: str, other_id: int) -> None:
        """Undo `silence`: the unblocked user's connections get `dm_opened` for the DM room
        (when it exists), which tells clients to join it again; none is put back unasked."""
        room = self.repository.get_room(dm_room_name(unblocker_id, other_id))
        if room is None:
            return
        self.broadcaster.notify(
            self.presence.sids_of(other_id),
            "dm_opened",
            {"room": room.name, "user": unblocker_name},
        )
