"""seed the general room

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:00:00

`flask db upgrade` alone gives a working server: everyone's default room exists.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

rooms = sa.table(
    "rooms",
    sa.column("name", sa.String),
    sa.column("topic", sa.String),
    sa.column("is_private", sa.Boolean),
    sa.column("last_message_id", sa.Integer),
    sa.column("created_at", sa.DateTime),
)


def upgrade():
    connection = op.get_bind()
    exists = connection.execute(sa.select(rooms.c.name).where(rooms.c.name == "general")).first()
    if exists is None:
        op.bulk_insert(
            rooms,
            [
                {
                    "name": "general",
                    "topic": "Everyone's room: say hello",
                    "is_private": False,
                    "last_message_id": 0,
                    "created_at": datetime.now(UTC).replace(tzinfo=None),
                }
            ],
        )


def downgrade():
    pass  # the room may hold messages by now: leave it
