"""The HTTP API's tables: bearer tokens (hashed), webhook deliveries already applied (dedupe),
and the SMS patients send in.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0002", "0001"

ROLES = ("staff", "ops", "admin")


def _instant(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    allowed = ", ".join(f"'{role}'" for role in ROLES)
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _instant("created_at"),
        _instant("revoked_at", nullable=True),
        sa.CheckConstraint(f"role IN ({allowed})", name=op.f("ck_api_token_role")),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
    )
    op.create_table(
        "webhook_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        _instant("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_event"),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_event_provider_event_id"),
    )
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("from_phone", sa.String(32), nullable=False),
        sa.Column("from_hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keyword", sa.String(16), nullable=False),
        _instant("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_message"),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name="fk_inbound_message_patient_id_patient"
        ),
    )
    op.create_index("ix_inbound_message_patient_id", "inbound_message", ["patient_id"])
    op.create_index("ix_inbound_message_from_hash", "inbound_message", ["from_hash"])
    op.create_index("ix_inbound_message_received_at", "inbound_message", ["received_at"])


def downgrade() -> None:
    for table in ("inbound_message", "webhook_event", "api_token"):
        op.drop_table(table)
