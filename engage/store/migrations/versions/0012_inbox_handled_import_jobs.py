"""Staff mark a patient's reply handled (who and when; an index of the ones still to read), and
patients imports run in the background with their progress stored (import_job).
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import instant

revision, down_revision = "0012", "0011"

UNHANDLED = sa.text("handled_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(instant("handled_at", nullable=True))
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
