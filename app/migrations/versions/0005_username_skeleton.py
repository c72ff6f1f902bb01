"""lookalike usernames: users.username_skeleton, unique

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:20:00

Registration refuses a name whose skeleton (app.domain.rules.username_skeleton) is taken. Older
lookalikes keep their accounts: the first of each group (lowest id) gets the skeleton, the later
ones NULL, which a unique index allows any number of times.
"""

import sqlalchemy as sa
from alembic import op

from app.domain.rules import username_skeleton

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("username_skeleton", sa.String),
)


def upgrade():
    # plain ALTER TABLE and CREATE INDEX: SQLite can do both without rebuilding `users`, which
    # the foreign keys pointing at it would forbid
    op.add_column("users", sa.Column("username_skeleton", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    seen = set()
    rows = connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id))
    for user_id, username in rows.all():
        skeleton = username_skeleton(username)
        if skeleton in seen:
            continue
        seen.add(skeleton)
        connection.execute(
            users.update().where(users.c.id == user_id).values(username_skeleton=skeleton)
        )
    op.create_index("uq_users_username_skeleton", "users", ["username_skeleton"], unique=True)


def downgrade():
    op.drop_index("uq_users_username_skeleton", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("username_skeleton")
