"""index users by suspended_at for the suspension sweep

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:40:00

Every server process asks, every SUSPENSION_SWEEP_SECONDS, which users were suspended since
it last looked (WHERE suspended_at >= ?): this index answers with a range scan of the few
recent ones however many users there are.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    # plain CREATE INDEX (no batch copy of `users`: other tables' foreign keys point at it)
    op.create_index("ix_users_suspended_at", "users", ["suspended_at"], unique=False)


def downgrade():
    op.drop_index("ix_users_suspended_at", table_name="users")
