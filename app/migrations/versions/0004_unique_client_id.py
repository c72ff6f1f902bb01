"""one message per (room, user, client_id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 19:05:00

Retries used to be found with a SELECT before every insert; a unique index finds them in the
insert itself, and also between processes. Older duplicates (possible only after the former
24-hour window) keep their text; only the later copies lose the client_id.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    messages = sa.table(
        "messages",
        sa.column("id", sa.Integer),
        sa.column("room_id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("client_id", sa.String),
    )
    first = (
        sa.select(sa.func.min(messages.c.id))
        .where(messages.c.client_id.is_not(None))
        .group_by(messages.c.room_id, messages.c.user_id, messages.c.client_id)
    )
    op.execute(
        messages.update()
        .where(messages.c.client_id.is_not(None), messages.c.id.not_in(first))
        .values(client_id=None)
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_client_id")
        batch_op.create_index(
            "uq_messages_client_id", ["room_id", "user_id", "client_id"], unique=True
        )


def downgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("uq_messages_client_id")
        batch_op.create_index(
            "ix_messages_client_id", ["room_id", "user_id", "client_id"], unique=False
        )
