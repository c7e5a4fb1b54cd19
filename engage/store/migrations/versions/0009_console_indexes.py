"""Indexes for the console: a day's appointments, a record's audit history, and the inbox
(names are indexed by 0007).
"""

from alembic import op

from engage.store.migrations.columns import index

revision, down_revision = "0009", "0008"


def upgrade() -> None:
    index("appointment", "starts_at")
    index("audit_log", "entity", "entity_id")
    index("inbound_message", "keyword", "id")


def downgrade() -> None:
    op.drop_index("ix_inbound_message_keyword_id", table_name="inbound_message")
    op.drop_index("ix_audit_log_entity_entity_id", table_name="audit_log")
    op.drop_index("ix_appointment_starts_at", table_name="appointment")
