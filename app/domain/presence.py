"""Presence coalescing: per (room, user), at most one `presence` broadcast per window."""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .ports import Broadcaster, Scheduler

JOINED = "joined"
LEFT = "left"


@dataclass(slots=True)
class _Window:
    until: float  # when the window closes
    sent: str  # the status last broadcast
    held: bool = False  # a change came inside the window


class PresenceCoalescer:
    """Broadcasts the first change of a user's presence in a room at once, then holds later
    changes until `window` seconds have passed; at the window's end the user's current
    state goes out only if it differs from the last one sent. So a join/leave loop costs the
    room one event per window, and the final state always arrives (at most `window` late).

    The windows live in this process: with several processes, each coalesces the changes it
    handles, and the state sent at a window's end is read from the shared presence store."""

    def __init__(
        self,
        broadcaster: Broadcaster,
        scheduler: Scheduler,
        window: float,
        clock: Callable[[], float],
        *,
        present: Callable[[int, str], bool],
        sids_of: Callable[[int], list[str]],
    ):
        self.broadcaster = broadcaster
        self.scheduler = scheduler
        self.window = window
        self.clock = clock
        self.present = present
        self.sids_of = sids_of
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, int], _Window] = {}
        self._names: dict[tuple[str, int], str] = {}

    def changed(
        self, room: str, user_id: int, username: str, status: str, skip_sids: Iterable[str]
    ) -> None:
        """`username` (user_id) joined or left `room`; `skip_sids` need not be told."""
        if self.window <= 0:
            self.broadcaster.presence(room, username, status, skip_sids)
            return
        key = (room, user_id)
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now < window.until:
                window.held = True
                self._names[key] = username
                return
            self._windows[key] = _Window(now + self.window, status)
            self._names[key] = username
        self.broadcaster.presence(room, username, status, skip_sids)
        self.scheduler.call_later(self.window, self._close, key)

    def forget(self, room: str, user_id: int) -> None:
        """Drop any held change of this user in this room: nothing more is broadcast for it."""
        with self._lock:
            self._windows.pop((room, user_id), None)
            self._names.pop((room, user_id), None)

    def _close(self, key: tuple[str, int]) -> None:
        room, user_id = key
        with self._lock:
            window = self._windows.get(key)
            if window is None or not window.held:
                self._windows.pop(key, None)
                self._names.pop(key, None)
                return
        status = JOINED if self.present(user_id, room) else LEFT
        with self._lock:
            window = self._windows.get(key)
            if window is None:  # forgotten meanwhile
                return
            if status == window.sent:
                del self._windows[key]
                del self._names[key]
                return
            self._windows[key] = _Window(self.clock() + self.window, status)
            username = self._names[key]
        # the user's own connections know their state; others in the room are told
        skip = self.sids_of(user_id) if status == JOINED else ()
        self.broadcaster.presence(room, username, status, skip)
        self.scheduler.call_later(self.window, self._close, key)
