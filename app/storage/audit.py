"""The audit log in SQL: every moderation and admin action, newest first for the admin page."""

import json

from sqlalchemy import select

from ..domain.models import AuditRecord
from .models import AuditEntry
from .sql import AnySession


class SqlAuditLog:
    def __init__(self, session: AnySession):
        self.session = session

    def record(self, entry: AuditRecord) -> None:
        """Store `entry` and commit."""
        self.session.add(
            AuditEntry(
                actor_id=entry.actor_id,
                action=entry.action,
                target_id=entry.target_id,
                room_name=entry.room,
                reason=entry.reason,
                details=json.dumps(entry.details or {}, sort_keys=True),
            )
        )
        self.session.commit()

    def recent(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """The newest entries (ids below `before_id` when given), newest first."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        rows = list(self.session.scalars(query))
        self.session.commit()
        return rows
