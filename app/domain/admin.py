"""Running the server: admins, suspended accounts and the report queue, each action audited."""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .accounts import Account, AccountRepository
from .connections import ConnectionService
from .errors import FORBIDDEN, INVALID, NOT_FOUND, ChatError
from .models import AuditRecord, utc_now
from .ports import AuditLog

REASON_MAX_LENGTH = 500  # as the moderation events' reasons (docs/protocol.md)
RESOLVED = "resolved"
DISMISSED = "dismissed"
REVIEWED = (RESOLVED, DISMISSED)


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """A message kept with a report, as it was said (real usernames, also in stranger chats)."""

    id: int | None
    user: str
    text: str
    ts: str


@dataclass(frozen=True, slots=True)
class ReportEntry:
    """One report as the admins see it in the queue."""

    id: int
    reporter: str
    reported: str
    reported_id: int
    room: str | None
    message_id: int | None
    reason: str
    context: list[ContextMessage]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewedReport:
    """A report an admin just resolved or dismissed: whom it was about, and where."""

    id: int
    reported_id: int
    room: str | None


class ReportQueue(Protocol):
    """The reports table as the admin page reads and reviews it (SQL: app/storage/admin.py)."""

    def open_reports(self, limit: int) -> list[ReportEntry]:
        """Reports nobody reviewed yet, oldest first."""
        ...

    def review(
        self, report_id: int, status: str, reviewer_id: int | None, at: datetime
    ) -> ReviewedReport | None:
        """Set an open report's status, reviewer and time; None when there is no open
        report with that id."""
        ...


class AdminService:
    """What the admin page and the `flask users` commands do. `actor_id` is the admin acting,
    or None for the command line (the shell's user runs the server)."""

    def __init__(
        self,
        accounts: AccountRepository,
        audit: AuditLog,
        connections: ConnectionService,
        reports: ReportQueue,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.accounts = accounts
        self.audit = audit
        self.connections = connections
        self.reports = reports
        self.clock = clock

    # -- users -----------------------------------------------------------------------------

    def user(self, username: str) -> Account:
        account = self.accounts.find_by_username(username)
        if account is None:
            raise ChatError(NOT_FOUND, f"There is no user named {username!r}.")
        return account

    def search(self, text: str, *, offset: int = 0, limit: int = 50) -> list[Account]:
        return self.accounts.search(text, offset=offset, limit=limit)

    def set_admin(self, actor_id: int | None, username: str, admin: bool) -> Account:
        """Make `username` an admin (or take it back); nobody revokes their own."""
        self._check_actor(actor_id)
        account = self.user(username)
        if not admin and account.id == actor_id:
            raise ChatError(FORBIDDEN, "You cannot revoke your own admin rights.")
        self.accounts.set_admin(account.id, admin)
        action = "grant_admin" if admin else "revoke_admin"
        self.audit.record(AuditRecord(actor_id, action, target_id=account.id))
        return account

    def suspend(self, actor_id: int | None, username: str, reason: str | None = None) -> int:
        """Suspend `username`: no sign-in, no tokens, and every open connection of theirs is
        told and closed (returns how many). Nobody suspends themselves."""
        self._check_actor(actor_id)
        reason = _reason(reason)
        account = self.user(username)
        if account.id == actor_id:
            raise ChatError(FORBIDDEN, "You cannot suspend your own account.")
        self.accounts.suspend(account.id, reason, self.clock())
        self.audit.record(AuditRecord(actor_id, "suspend", target_id=account.id, reason=reason))
        return self.connections.suspend(account.id)

    def unsuspend(self, actor_id: int | None, username: str) -> Account:
        self._check_actor(actor_id)
        account = self.user(username)
        self.accounts.unsuspend(account.id)
        self.audit.record(AuditRecord(actor_id, "unsuspend", target_id=account.id))
        return account

    # -- reports ---------------------------------------------------------------------------

    def open_reports(self, limit: int = 100) -> list[ReportEntry]:
        return self.reports.open_reports(limit)

    def review_report(self, actor_id: int | None, report_id: int, status: str) -> ReviewedReport:
        """Resolve or dismiss an open report (which also lets a user kept out of stranger
        matching by reports back in)."""
        self._check_actor(actor_id)
        if status not in REVIEWED:
            raise ChatError(INVALID, f"A report is {' or '.join(REVIEWED)}, not {status!r}.")
        reviewed = self.reports.review(report_id, status, actor_id, self.clock())
        if reviewed is None:
            raise ChatError(NOT_FOUND, f"There is no open report #{report_id}.")
        action = "resolve_report" if status == RESOLVED else "dismiss_report"
        self.audit.record(
            AuditRecord(
                actor_id,
                action,
                target_id=reviewed.reported_id,
                room=reviewed.room,
                details={"report": reviewed.id},
            )
        )
        return reviewed

    def _check_actor(self, actor_id: int | None) -> None:
        # the page checks this per request too; a revoked admin's form must not slip through
        if actor_id is not None and not self.accounts.is_admin(actor_id):
            raise ChatError(FORBIDDEN, "Only admins can do that.")


def _reason(reason: str | None) -> str | None:
    """A suspension's reason: trimmed, empty is none, at most REASON_MAX_LENGTH characters."""
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ChatError(INVALID, f"A reason is at most {REASON_MAX_LENGTH} characters.")
    if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in reason):
        raise ChatError(INVALID, "A reason cannot contain control characters.")
    return reason or None
