"""Course workflows: a re-planned message's old and new due times (the timeline shows a move as
old -> new), and a pause with an end (`paused_until`: the enrollment resumes on its own).
"""

from alembic import op

from engage.store.migrations.columns import instant

revision, down_revision = "0004", "0003"


def upgrade() -> None:
    op.add_column("message_event", instant("due_from", nullable=True))
    op.add_column("message_event", instant("due_to", nullable=True))
    op.add_column("enrollment", instant("paused_until", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("paused_until")
    with op.batch_alter_table("message_event") as batch:
        batch.drop_column("due_to")
        batch.drop_column("due_from")
