"""What the admin page reads in SQL: the open reports with their context, the audit log."""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from ..domain.admin import ContextMessage, ReportEntry, ReviewedReport
from .audit import SqlAuditLog
from .models import Report, User
from .sql import AnySession

OPEN = "open"


@dataclass(frozen=True, slots=True)
class AuditLine:
    """An audit log entry with names instead of user ids (actor None: the command line)."""

    id: int
    at: datetime
    actor: str | None
    action: str
    target: str | None
    room: str | None
    reason: str | None
    details: dict


class SqlReportQueue:
    def __init__(self, session: AnySession):
        self.session = session

    def open_reports(self, limit: int) -> list[ReportEntry]:
        reporter, reported = aliased(User), aliased(User)
        rows = self.session.execute(
            select(Report, reporter.username, reported.username)
            .join(reporter, reporter.id == Report.reporter_id)
            .join(reported, reported.id == Report.reported_id)
            .where(Report.status == OPEN)
            .order_by(Report.created_at, Report.id)
            .limit(limit)
        ).all()
        entries = [
            ReportEntry(
                id=report.id,
                reporter=reporter_name,
                reported=reported_name,
                reported_id=report.reported_id,
                room=report.room_name,
                message_id=report.message_id,
                reason=report.reason,
                context=_context(report.context),
                created_at=report.created_at,
            )
            for report, reporter_name, reported_name in rows
        ]
        self.session.commit()
        return entries

    def review(
        self, report_id: int, status: str, reviewer_id: int | None, at: datetime
    ) -> ReviewedReport | None:
        # only an open report: two admins pressing at once review it once
        changed = self.session.execute(
            update(Report)
            .where(Report.id == report_id, Report.status == OPEN)
            .values(status=status, reviewed_by=reviewer_id, reviewed_at=at)
        ).rowcount
        row = self.session.execute(
            select(Report.id, Report.reported_id, Report.room_name).where(Report.id == report_id)
        ).first()
        self.session.commit()
        if not changed or row is None:
            return None
        return ReviewedReport(id=row[0], reported_id=row[1], room=row[2])


class SqlAuditView:
    """The audit log newest first (SqlAuditLog.recent), with the users' names."""

    def __init__(self, session: AnySession):
        self.session = session
        self.log = SqlAuditLog(session)

    def recent(self, limit: int = 100, before_id: int | None = None) -> list[AuditLine]:
        entries = self.log.recent(limit, before_id)
        lines = [
            (
                e.id,
                e.created_at,
                e.actor_id,
                e.action,
                e.target_id,
                e.room_name,
                e.reason,
                e.details,
            )
            for e in entries
        ]
        ids = {uid for line in lines for uid in (line[2], line[4]) if uid is not None}
        names = (
            dict(self.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
            if ids
            else {}
        )
        self.session.commit()
        return [
            AuditLine(
                id=entry_id,
                at=at,
                actor=names.get(actor) if actor is not None else None,
                action=action,
                target=names.get(target) if target is not None else None,
                room=room,
                reason=reason,
                details=_json_object(details),
            )
            for entry_id, at, actor, action, target, room, reason, details in lines
        ]


def _context(stored: str | None) -> list[ContextMessage]:
    """The messages kept with a report: a JSON list of message objects (id, user, text, ts);
    anything else in it is skipped rather than failing the whole page."""
    try:
        items = json.loads(stored or "[]")
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    messages = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            message_id = item.get("id")
            messages.append(
                ContextMessage(
                    id=message_id if isinstance(message_id, int) else None,
                    user=str(item.get("user", "")),
                    text=item["text"],
                    ts=str(item.get("ts", "")),
                )
            )
    return messages


def _json_object(stored: str | None) -> dict:
    try:
        value = json.loads(stored or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
