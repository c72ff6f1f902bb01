"""Connections: opening one (per-user cap), its disconnect, charging its events to budgets."""

from .core import Core
from .models import AccountSuspended, Identity
from .presence import LEFT
from .strangers import StrangerService


class ConnectionService:
    def __init__(self, core: Core, strangers: StrangerService):
        self.core = core
        self.ports = core.ports
        self.strangers = strangers

    def connect(self, sid: str, identity: Identity, max_connections: int = 0) -> bool:
        """Register a connection; False (nothing registered) when the user already has
        `max_connections` (> 0) open, in every process together."""
        return self.ports.presence.add_connection(sid, identity, max_connections)

    def disconnect(self, sid: str) -> None:
        """Forget a connection: it leaves its rooms (`presence` left where it was the user's
        last) and stranger chat (the partner after a grace period)."""
        identity, rooms = self.ports.presence.remove_connection(sid)
        if identity is None:
            return
        for room, user_left in rooms:
            self.ports.broadcaster.unsubscribe(sid, room)
            if user_left:
                name = self.core.name_in(room, identity)
                self.core.announce.changed(room, identity.user_id, name, LEFT, ())
        self.strangers.disconnected(identity, sid)

    def suspend(self, user_id: int) -> int:
        """The user was just suspended: from now on every event of theirs is `unauthorized`,
        and every connection of theirs, on every process, gets `account_suspended` and is
        closed. Returns how many connections that was."""
        return self._close_suspended(self.ports.presence.suspend_user(user_id))

    def suspend_here(self, user_id: int) -> int:
        """`suspend` for the user's connections held by this process that were not told yet
        (the suspension sweep, app/domain/suspensions.py: each process closes its own, whoever
        suspended the user, and one suspended through Redis was told already)."""
        return self._close_suspended(self.ports.presence.suspend_local(user_id))

    def _close_suspended(self, sids: list[str]) -> int:
        if sids:
            self.ports.broadcaster.notify(sids, AccountSuspended())
            self.ports.broadcaster.disconnect(sids)
        return len(sids)

    def charge(self, sid: str, event: str | None) -> Identity:
        """Authenticate `sid` and charge `event` to its user's budgets (`rate_limited` when
        over); unknown event names (None) are charged to the shared `events` bucket only."""
        identity = self.core.identity(sid)
        self.core.throttle.event(identity.user_id, event)
        return identity
