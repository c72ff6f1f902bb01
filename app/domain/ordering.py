"""Per-room delivery order on one process when messages also arrive from other processes."""

from dataclasses import dataclass, field


@dataclass(slots=True)
class _RoomState:
    # Highest id delivered to this process's subscribers of the room; None until known.
    delivered: int | None = None
    # Subscribers whose join catch-up already holds messages up to this id.
    caught_up: dict[str, int] = field(default_factory=dict)


class RoomSequencer:
    """Decides, per room, which message ids this process still has to deliver, in id order.

    Ids are assigned in commit order (the room's counter row is locked by each insert), and
    every message is published after its commit. So when message N arrives, every id below N
    is already stored, and a missing one can be read back instead of waited for. A message
    that arrives after it was read back that way is dropped. Joiners whose catch-up already
    holds an id are skipped for it, so nobody receives a message twice.

    Not thread-safe on its own: callers hold the room's lock around every call.
    """

    # A longer gap than this is not read back: the clients catch up with `since` instead.
    MAX_GAP = 1000

    def __init__(self) -> None:
        self._rooms: dict[str, _RoomState] = {}

    def caught_up(self, room: str, sid: str, upto: int) -> None:
        """`sid` joined `room` holding every message up to `upto` from its catch-up."""
        state = self._rooms.setdefault(room, _RoomState())
        if state.delivered is None or upto > state.delivered:
            state.caught_up[sid] = upto

    def forget(self, room: str, sid: str) -> None:
        state = self._rooms.get(room)
        if state is not None:
            state.caught_up.pop(sid, None)

    def drop_room(self, room: str) -> None:
        """No subscriber left here: the next joiner's catch-up starts the room afresh."""
        self._rooms.pop(room, None)

    def due(self, room: str, message_id: int) -> range:
        """Ids to deliver now, in order, ending with `message_id`; empty if already delivered."""
        state = self._rooms.setdefault(room, _RoomState())
        delivered = state.delivered
        if delivered is None:
            delivered = min(state.caught_up.values(), default=message_id - 1)
        start = max(delivered + 1, message_id - self.MAX_GAP)
        return range(start, message_id + 1)

    def skip(self, room: str, message_id: int) -> list[str]:
        """Subscribers whose catch-up already gave them `message_id`."""
        state = self._rooms.get(room)
        if state is None or not state.caught_up:
            return []
        return [sid for sid, upto in state.caught_up.items() if upto >= message_id]

    def delivered(self, room: str, message_id: int) -> None:
        state = self._rooms.setdefault(room, _RoomState())
        state.delivered = message_id
        if state.caught_up:
            state.caught_up = {s: upto for s, upto in state.caught_up.items() if upto > message_id}
