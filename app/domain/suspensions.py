"""The suspension sweep: each process closes its own connections of users suspended anywhere."""

from collections.abc import Callable
from datetime import datetime, timedelta

from .accounts import AccountRepository
from .connections import ConnectionService

# How far back each look reaches before the previous one: a suspension committed a moment
# after its time was taken (the transaction, the process that made it being slow), or made
# on a machine whose clock is a little behind, is still seen. The few users suspended in
# that window are read again, and skipped (`handled`).
MARGIN = timedelta(seconds=30)


class SuspensionSweep:
    """Asked every SUSPENSION_SWEEP_SECONDS (app/sweeper.py): which users were suspended
    since the last look, by anyone (the admin page of any process, `flask users suspend`
    with or without Redis). Each one's connections held by this process get
    `account_suspended` and are closed, as `ConnectionService.suspend` does."""

    def __init__(
        self,
        accounts: AccountRepository,
        connections: ConnectionService,
        clock: Callable[[], datetime],
        margin: timedelta = MARGIN,
    ):
        self.accounts = accounts
        self.connections = connections
        self.clock = clock
        self.margin = margin
        # connections made before this process started were refused if suspended
        self.last_look = clock()
        # user id -> the suspended_at already handled (a suspension lifted and made again
        # has a new time, and is handled again)
        self.handled: dict[int, datetime] = {}

    def sweep(self) -> int:
        """One look (one query); returns how many connections of this process it closed."""
        now = self.clock()
        since = self.last_look - self.margin
        suspended = self.accounts.suspended_since(since)
        self.handled = {user: at for user, at in self.handled.items() if at >= since}
        closed = 0
        for user_id, at in suspended:
            if self.handled.get(user_id) == at:
                continue
            closed += self.connections.suspend_here(user_id)
            self.handled[user_id] = at
        # only once it all went through: a failed look is made again, from as far back
        self.last_look = now
        return closed
