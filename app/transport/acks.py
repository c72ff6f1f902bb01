"""Ack ordering: a `join` ack is queued before any later broadcast of its room.

The join reads its catch-up under the room's lock; were the lock released when the handler
returns, a message stored right then could be broadcast before python-socketio queues the
ack, and the client would see it before the catch-up that precedes it. So inside an event
the transport dispatches, hold_room_locks() keeps the room locks the event takes until its
ack is queued.
"""

from contextlib import AbstractContextManager
from contextvars import ContextVar

from ..domain.ports import RoomLocks

# The room locks kept by the event being dispatched: None outside a dispatch, None inside one
# until hold_room_locks(). A context variable is per thread and, with greenlet, per greenlet,
# whether or not gevent has patched `threading` yet.
_held: ContextVar[list[AbstractContextManager] | None] = ContextVar("held_room_locks")
_dispatching: ContextVar[bool] = ContextVar("dispatching_event", default=False)


def hold_room_locks() -> None:
    """From now until this event's ack is queued, room locks the event leaves stay held (one
    taken again meanwhile is not taken twice). Outside an event the transport dispatches
    (release_held_locks_after_ack), nothing changes: locks are released as usual."""
    if _dispatching.get():
        _held.set([])


class AckOrderedRoomLocks:
    """The domain's RoomLocks on top of `locks`, which must give the same lock object for a
    room every time (StripedRoomLocks does); it honours hold_room_locks()."""

    def __init__(self, locks: RoomLocks):
        self._locks = locks

    def __call__(self, room: str) -> "_RoomLock":
        return _RoomLock(self._locks(room))


class _RoomLock:
    __slots__ = ("_lock", "_acquired")

    def __init__(self, lock: AbstractContextManager):
        self._lock = lock
        self._acquired = False

    def __enter__(self) -> None:
        held = _held.get(None)
        # still held from earlier in the same event: nothing to take
        self._acquired = not (held and self._lock in held)
        if self._acquired:
            self._lock.__enter__()

    def __exit__(self, *exc) -> None:
        if not self._acquired:
            return
        held = _held.get(None)
        if held is None:
            self._lock.__exit__(None, None, None)
        else:
            held.append(self._lock)


def release_held_locks_after_ack(sio_server) -> None:
    """Run each event's handler and ack (python-socketio's `_handle_event_internal`), then
    free the room locks the handler kept."""
    handle_event = sio_server._handle_event_internal

    def handle_event_then_release(*args, **kwargs):
        dispatching = _dispatching.set(True)
        held = _held.set(None)
        try:
            return handle_event(*args, **kwargs)
        finally:
            kept = _held.get()
            _held.reset(held)
            _dispatching.reset(dispatching)
            for lock in reversed(kept or ()):
                lock.__exit__(None, None, None)

    sio_server._handle_event_internal = handle_event_then_release
