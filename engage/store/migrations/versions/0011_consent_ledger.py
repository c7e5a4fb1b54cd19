"""The consent ledger: every applied consent decision, append-only (channel, granted, when,
source, actor, origin, notice version, reason). Existing current rows seed it, so no history
starts empty.
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import boolean, instant, string, text

revision, down_revision = "0011", "0010"


def upgrade() -> None:
    op.create_table(
        "consent_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patient.id"), nullable=False),
        string("channel", 8),
        boolean("granted"),
        instant("at"),
        string("source", 32),
        string("actor", 64),
        string("origin", 16),
        text("notice"),
        text("reason"),
    )
    op.create_index(
        "ix_consent_event_patient_channel_at", "consent_event", ["patient_id", "channel", "at"]
    )
    op.execute(
        "INSERT INTO consent_event (patient_id, channel, granted, at, source, actor, origin,"
        " notice, reason) SELECT patient_id, channel, granted, changed_at, source, source,"
        " 'system', notice, 'recorded before the ledger' FROM consent"
    )


def downgrade() -> None:
    op.drop_index("ix_consent_event_patient_channel_at", "consent_event")
    op.drop_table("consent_event")
