"""Reports in SQL: a user's report of another, with the messages kept as its context."""

import json
from datetime import datetime

from sqlalchemy import distinct, func, select

from ..domain.models import Message, NewReport
from .models import Report
from .sql import AnySession


def context_json(messages: tuple[Message, ...]) -> str:
    """The kept messages as JSON, with real usernames (the admins read them)."""
    return json.dumps(
        [
            {
                "id": m.id,
                "user": m.user,
                "text": m.text,
                "ts": m.ts.isoformat(timespec="milliseconds"),
            }
            for m in messages
        ]
    )


class SqlReports:
    def __init__(self, session: AnySession):
        self.session = session

    def add(self, report: NewReport) -> int:
        row = Report(
            reporter_id=report.reporter_id,
            reported_id=report.reported_id,
            room_name=report.room,
            message_id=report.message_id,
            reason=report.reason,
            context=context_json(report.context),
            created_at=report.created_at,
        )
        self.session.add(row)
        self.session.commit()
        return row.id

    def reporters_since(self, reported_id: int, since: datetime) -> int:
        about = Report.reported_id == reported_id
        reviewed = self.session.scalar(select(func.max(Report.reviewed_at)).where(about))
        cutoff = max(since, reviewed) if reviewed is not None else since
        count = self.session.scalar(
            select(func.count(distinct(Report.reporter_id))).where(
                about, Report.created_at > cutoff
            )
        )
        self.session.commit()
        return int(count or 0)
