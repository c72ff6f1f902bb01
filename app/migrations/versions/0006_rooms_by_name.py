"""index public rooms by name for the paged `rooms` event

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:30:00

`rooms` reads one page of public rooms at a time (WHERE is_private = false AND name > ?
ORDER BY name LIMIT ?); this index answers it with a range scan however many rooms (and
stranger-chat rooms) there are.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.create_index("ix_rooms_is_private_name", ["is_private", "name"], unique=False)


def downgrade():
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index("ix_rooms_is_private_name")
