"""Presence coalescing: per (room, user), at most one `presence` broadcast per window."""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .models import PresenceChanged
from .ports import Broadcaster, Scheduler

JOINED = "joined"
LEFT = "left"
# Closed windows are swept once this many are kept (a window needs no timer unless a change
# is held in it, so most simply expire).
SWEEP_AT = 1024


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
            self.broadcaster.to_room(PresenceChanged(room, username, status), skip_sids)
            return
        key = (room, user_id)
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now < window.until:
                self._names[key] = username
                if not window.held:  # the first change held: flush when the window ends
                    window.held = True
                    self.scheduler.call_later(window.until - now, self._close, key)
                return
            if len(self._windows) >= SWEEP_AT:
                self._sweep(now)
            self._windows[key] = _Window(now + self.window, status)
            self._names[key] = username
        self.broadcaster.to_room(PresenceChanged(room, username, status), skip_sids)

    def _sweep(self, now: float) -> None:
        for key in [k for k, w in self._windows.items() if now >= w.until and not w.held]:
            del self._windows[key]
            self._names.pop(key, None)

    def forget(self, room: str, user_id: int) -> None:
        """Drop any held change of this user in this room: nothing more is broadcast for it."""
        with self._lock:
            self._windows.pop((room, user_id), None)
            self._names.pop((room, user_id), None)

    def _close(self, key: tuple[str, int]) -> None:
        room, user_id = key
        with self._lock:
            window = self._windows.get(key)
            if window is None or not window.held:  # forgotten (block) since it was scheduled
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
            # A change made while `present` was being read found this window already held
            # and scheduled nothing: look once more when the new window ends (nothing is
            # sent then unless the state moved again).
            self._windows[key] = _Window(self.clock() + self.window, status, held=True)
            username = self._names[key]
        self.scheduler.call_later(self.window, self._close, key)
        # The user's own connections know their state; others in the room are told. Also
        # for `left`: a connection of theirs may have joined since `present` was read.
        self.broadcaster.to_room(PresenceChanged(room, username, status), self.sids_of(user_id))
