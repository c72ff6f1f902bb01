"""Per-room delivery order on one process when a room's changes also arrive from others."""

from collections.abc import Callable
from dataclasses import dataclass, field

NEW = "message"
UPDATED = "message_updated"

# (event name, Message payload, sids to skip): what the process emits, in order
Delivery = tuple[str, dict, list[str]]
# reads current Message payloads back from the database: (room, after, upto), ascending
ReadBack = Callable[[str, int, int], list[dict]]


@dataclass(slots=True)
class _RoomState:
    # Highest room revision delivered to this process's subscribers; None until known.
    rev: int | None = None
    # Highest message id sent as `message`; None until known.
    id: int | None = None
    # Messages sent ahead of their revision (read back by id to fill a gap of ids): the rev
    # of the state sent, so older states arriving later are not sent again.
    ahead: dict[int, int] = field(default_factory=dict)
    # Subscribers whose join catch-up holds messages up to this id and changes up to this
    # revision: (id, rev).
    caught_up: dict[str, tuple[int, int]] = field(default_factory=dict)


class RoomSequencer:
    """Decides, per room, what this process delivers of each arriving change, in rev order.

    Every stored change of a room (a new message, an edit, a delete, a reaction) takes the
    room's next revision in the transaction that stores it, and is published after its
    commit. So when revision N arrives, every revision below N is already stored, and a gap
    is read back (the changed messages' current states) instead of waited for; a change that
    arrives after it was read back is dropped. Clients must see a message's `message` before
    any `message_updated` of it: a change to a message this process never sent goes out as
    `message`, after any lower id not sent yet (read back by id). Joiners are skipped for
    what their catch-up already gave them, so nobody receives a change twice.

    Not thread-safe on its own: callers hold the room's lock around every call.
    """

    # A longer gap than this (of revisions, or of ids) is not read back: the clients catch
    # up with `since` and `rev` instead.
    MAX_GAP = 1000

    def __init__(self) -> None:
        self._rooms: dict[str, _RoomState] = {}

    def caught_up(self, room: str, sid: str, upto_id: int, upto_rev: int) -> None:
        """`sid` joined `room` holding messages up to `upto_id` and changes up to `upto_rev`."""
        state = self._rooms.setdefault(room, _RoomState())
        if state.rev is None or upto_rev > state.rev or upto_id > (state.id or 0):
            state.caught_up[sid] = (upto_id, upto_rev)

    def forget(self, room: str, sid: str) -> None:
        state = self._rooms.get(room)
        if state is not None:
            state.caught_up.pop(sid, None)

    def drop_room(self, room: str) -> None:
        """No subscriber left here: the next joiner's catch-up starts the room afresh."""
        self._rooms.pop(room, None)

    def deliver(
        self,
        room: str,
        event: str,
        payload: dict,
        by_rev: ReadBack,
        by_id: ReadBack,
    ) -> list[Delivery]:
        """What to emit, in order, for `payload` (a `message` or `message_updated` just
        published): nothing when already delivered; else the changes of any gap of
        revisions before it (`by_rev(room, after, before)`: revisions after < r < before),
        then it, each preceded by the messages of any gap of ids (`by_id(room, after,
        before)`: ids after < i < before) that were never sent."""
        state = self._rooms.setdefault(room, _RoomState())
        rev, message_id = payload["rev"], payload["id"]
        if state.rev is None:
            state.rev = min((r for _, r in state.caught_up.values()), default=rev - 1)
        if state.id is None:
            fallback = message_id - 1 if event == NEW else message_id
            state.id = min((i for i, _ in state.caught_up.values()), default=fallback)
        if rev <= state.rev:
            return []  # read back already (or a duplicate)
        changes = []
        start = max(state.rev, rev - self.MAX_GAP - 1)
        if rev > start + 1:
            changes = [c for c in by_rev(room, start, rev) if start < c["rev"] < rev]
        changes.append(payload)
        out: list[Delivery] = []
        for change in changes:
            self._send(state, room, change, by_id, out)
        state.rev = rev
        self._prune(state)
        return out

    def _send(
        self, state: _RoomState, room: str, change: dict, by_id: ReadBack, out: list[Delivery]
    ) -> None:
        message_id = change["id"]
        if state.ahead.get(message_id, -1) >= change["rev"]:
            return  # a state at least as new was sent with a gap of ids
        if message_id <= state.id:
            out.append((UPDATED, change, self._skip(state, change)))
            return
        if message_id > state.id + 1:
            first = max(state.id, message_id - self.MAX_GAP - 1)
            for missing in by_id(room, first, message_id):
                if first < missing["id"] < message_id:
                    out.append((NEW, missing, self._skip(state, missing)))
                    state.ahead[missing["id"]] = missing["rev"]
        out.append((NEW, change, self._skip(state, change)))
        state.id = message_id

    @staticmethod
    def _skip(state: _RoomState, change: dict) -> list[str]:
        """Subscribers whose catch-up already holds this change (or a newer state of it)."""
        if not state.caught_up:
            return []
        message_id, rev = change["id"], change["rev"]
        return [
            sid
            for sid, (upto_id, upto_rev) in state.caught_up.items()
            if message_id <= upto_id and rev <= upto_rev
        ]

    @staticmethod
    def _prune(state: _RoomState) -> None:
        # a joiner whose catch-up is behind everything delivered needs no more skipping, and
        # a state sent ahead is no longer ahead once its revision is delivered
        if state.caught_up:
            state.caught_up = {
                sid: (upto_id, upto_rev)
                for sid, (upto_id, upto_rev) in state.caught_up.items()
                if upto_rev > state.rev or upto_id > state.id
            }
        if state.ahead:
            state.ahead = {i: r for i, r in state.ahead.items() if r > state.rev}
