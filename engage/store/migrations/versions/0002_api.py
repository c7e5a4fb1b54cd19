"""The HTTP API's tables: bearer tokens (hashed), webhook deliveries already applied (dedupe),
and the SMS patients send in.
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import ROLES, fk, instant, key, one_of

revision, down_revision = "0002", "0001"


def upgrade() -> None:
    op.create_table(
        "api_token",
        *key("api_token"),
        sa.Column("name", sa.String(64), nullable=False),
        *one_of("api_token", "role", ROLES),
        sa.Column("token_hash", sa.String(64), nullable=False),
        instant("created_at"),
        instant("revoked_at", nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
    )
    op.create_table(
        "webhook_event",
        *key("webhook_event"),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        instant("received_at"),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_event_provider_event_id"),
    )
    op.create_table(
        "inbound_message",
        *key("inbound_message"),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("from_phone", sa.String(32), nullable=False),
        sa.Column("from_hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keyword", sa.String(16), nullable=False),
        instant("received_at"),
        fk("inbound_message", "patient_id", "patient"),
    )
    op.create_index("ix_inbound_message_patient_id", "inbound_message", ["patient_id"])
    op.create_index("ix_inbound_message_from_hash", "inbound_message", ["from_hash"])
    op.create_index("ix_inbound_message_received_at", "inbound_message", ["received_at"])


def downgrade() -> None:
    for table in ("inbound_message", "webhook_event", "api_token"):
        op.drop_table(table)
