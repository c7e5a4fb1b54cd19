"""Staff mark a patient's reply handled (who and when; an index of the ones still to read), and
patients imports run in the background with their progress stored (import_job).
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import instant, integer, json_value, string, text

revision, down_revision = "0012", "0011"

UNHANDLED = sa.text("handled_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(instant("handled_at", nullable=True))
        batch.add_column(string("handled_by", 64, nullable=True))
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
        string("actor", 64),
        string("filename", 100),
        string("state", 16),
        integer("rows_done"),
        integer("rows_total"),
        json_value("report", nullable=True),
        text("error"),
        instant("started_at"),
        instant("updated_at"),
        instant("finished_at", nullable=True),
    )


def downgrade() -> None:
    op.drop_table("import_job")
    op.drop_index("ix_inbound_message_unhandled", table_name="inbound_message")
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_column("handled_by")
        batch.drop_column("handled_at")
