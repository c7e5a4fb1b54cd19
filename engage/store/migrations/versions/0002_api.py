"""The HTTP API's tables: bearer tokens (hashed), webhook deliveries already applied (dedupe),
and the SMS patients send in.
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import (
    ROLES,
    fk,
    index,
    instant,
    integer,
    key,
    one_of,
    string,
    text,
)

revision, down_revision = "0002", "0001"


def upgrade() -> None:
    op.create_table(
        "api_token",
        *key("api_token"),
        string("name", 64),
        *one_of("api_token", "role", ROLES),
        string("token_hash", 64),
        instant("created_at"),
        instant("revoked_at", nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
    )
    op.create_table(
        "webhook_event",
        *key("webhook_event"),
        string("provider", 16),
        string("event_id", 200),
        instant("received_at"),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_event_provider_event_id"),
    )
    op.create_table(
        "inbound_message",
        *key("inbound_message"),
        integer("patient_id", nullable=True),
        string("provider_id", 64),
        string("from_phone", 32),
        string("from_hash", 64),
        text("body"),
        string("keyword", 16),
        instant("received_at"),
        fk("inbound_message", "patient_id", "patient"),
    )
    index("inbound_message", "patient_id")
    index("inbound_message", "from_hash")
    index("inbound_message", "received_at")


def downgrade() -> None:
    for table in ("inbound_message", "webhook_event", "api_token"):
        op.drop_table(table)
