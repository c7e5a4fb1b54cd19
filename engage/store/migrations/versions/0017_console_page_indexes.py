"""Indexes for the console's pages at a million patients (bench/console_pages.py): the due
backlog that Operations and `engage status` show, read from a partial index alone (a 1.2 s scan
of the outbox before), and Today's failed safety messages (a walk over every failed one before).
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0017", "0016"

UNSENT = "state IN ('scheduled', 'queued', 'sending')"
CRITICAL_FAILED = "critical AND state IN ('failed', 'undelivered')"


def upgrade() -> None:
    op.create_index(
        "ix_message_unsent_due_at",
        "message",
        ["due_at", "channel"],
        postgresql_where=sa.text(UNSENT),
        sqlite_where=sa.text(UNSENT),
    )
    op.create_index(
        "ix_message_critical_failed_due_at",
        "message",
        ["due_at"],
        postgresql_where=sa.text(CRITICAL_FAILED),
        sqlite_where=sa.text(CRITICAL_FAILED),
    )


def downgrade() -> None:
    op.drop_index("ix_message_critical_failed_due_at", table_name="message")
    op.drop_index("ix_message_unsent_due_at", table_name="message")
