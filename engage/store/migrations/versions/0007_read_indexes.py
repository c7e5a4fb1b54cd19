"""Indexes for reads at clinic-group scale (bench/reads.py measures them): patient name search
by prefix, and the dead-letter list newest first without scanning every message.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0007", "0006"

DEAD = sa.text("state IN ('failed', 'undelivered', 'flagged')")


def upgrade() -> None:
    for column in ("last_name", "first_name"):
        op.create_index(
            f"ix_patient_{column}_prefix",
            "patient",
            [sa.func.lower(sa.literal_column(column)).label(f"lower_{column}")],
            postgresql_ops={f"lower_{column}": "text_pattern_ops"},
        )
    op.create_index(
        "ix_message_dead_updated_at",
        "message",
        ["updated_at", "id"],
        postgresql_where=DEAD,
        sqlite_where=DEAD,
    )


def downgrade() -> None:
    op.drop_index("ix_message_dead_updated_at", "message")
    for column in ("first_name", "last_name"):
        op.drop_index(f"ix_patient_{column}_prefix", "patient")
