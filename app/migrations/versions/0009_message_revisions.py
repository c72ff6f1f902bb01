"""message revisions: edits, deletes, replies and reactions; a per-room revision counter

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 11:00:00

Every stored change of a room (a new message, an edit, a delete, a reaction) takes the next
value of rooms.rev, and the changed message keeps it in messages.rev: `join` with `since` and
`rev` reads the messages changed since a client's revision through ix_messages_room_id_rev.
Existing history is back-filled so that each message's rev is its id (each was one change).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMN (no batch copy: other tables' foreign keys point at both tables)
    op.add_column("rooms", sa.Column("rev", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("messages", sa.Column("rev", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("messages", sa.Column("edited_at", sa.DateTime(), nullable=True))
    op.add_column("messages", sa.Column("deleted_at", sa.DateTime(), nullable=True))
    # the room's message id (seq) this one answers
    op.add_column("messages", sa.Column("reply_to", sa.Integer(), nullable=True))
    op.execute("UPDATE rooms SET rev = last_message_id")
    op.execute("UPDATE messages SET rev = seq")
    op.create_index("ix_messages_room_id_rev", "messages", ["room_id", "rev"], unique=False)
    op.create_index(
        "ix_messages_room_id_reply_to", "messages", ["room_id", "reply_to"], unique=False
    )
    op.create_table(
        "message_reactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("emoji", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_reactions_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_message_reactions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_reactions")),
        sa.UniqueConstraint(
            "message_id",
            "emoji",
            "user_id",
            name=op.f("uq_message_reactions_message_id_emoji_user_id"),
        ),
    )


def downgrade():
    op.drop_table("message_reactions")
    op.drop_index("ix_messages_room_id_reply_to", table_name="messages")
    op.drop_index("ix_messages_room_id_rev", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("reply_to")
        batch.drop_column("deleted_at")
        batch.drop_column("edited_at")
        batch.drop_column("rev")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("rev")
