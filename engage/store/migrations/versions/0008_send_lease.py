"""A lease on a message in `sending`: which worker holds it and until when (renewed while held),
so recovery gives back only what no live worker holds.
"""

from alembic import op

from engage.store.migrations.columns import instant, string

revision, down_revision = "0008", "0007"


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(string("holder", 64, nullable=True))
        batch.add_column(instant("lease_until", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("holder")
