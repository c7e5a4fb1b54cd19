"""Retry deadlines: when a message's provider errors began, and when staff were alerted that a
safety-critical message is still undelivered (retries go on meanwhile).
"""

from alembic import op

from engage.store.migrations.columns import instant

revision, down_revision = "0010", "0009"


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(instant("failing_since", nullable=True))
        batch.add_column(instant("staff_alerted_at", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("staff_alerted_at")
        batch.drop_column("failing_since")
