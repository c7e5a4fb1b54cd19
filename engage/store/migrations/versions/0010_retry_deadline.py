"""Retry deadlines: when a message's provider errors began, and when staff were alerted that a
safety-critical message is still undelivered (retries go on meanwhile).
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0010", "0009"


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("staff_alerted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("staff_alerted_at")
        batch.drop_column("failing_since")
