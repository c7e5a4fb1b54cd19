"""Staff mark a patient's reply handled (who and when; an index of the ones still to read), and
patients imports run in the background with their progress stored (import_job).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNHANDLED = sa.text("handled_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("handled_by", sa.String(64), nullable=True))
    op.create_index(
        "ix_inbound_message_unhandled",
        "inbound_message",
        ["keyword", "id"],
        sqlite_where=UNHANDLED,
        postgresql_where=UNHANDLED,
    )
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("import_job")
    op.drop_index("ix_inbound_message_unhandled", table_name="inbound_message")
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_column("handled_by")
        batch.drop_column("handled_at")
