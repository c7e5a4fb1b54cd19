"""Indexes for the console: a day's appointments, a record's audit history, and the inbox
(names are indexed by 0007).
"""

from alembic import op

revision, down_revision = "0009", "0008"


def upgrade() -> None:
    op.create_index("ix_appointment_starts_at", "appointment", ["starts_at"])
    op.create_index("ix_audit_log_entity_entity_id", "audit_log", ["entity", "entity_id"])
    op.create_index("ix_inbound_message_keyword_id", "inbound_message", ["keyword", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_message_keyword_id", table_name="inbound_message")
    op.drop_index("ix_audit_log_entity_entity_id", table_name="audit_log")
    op.drop_index("ix_appointment_starts_at", table_name="appointment")
