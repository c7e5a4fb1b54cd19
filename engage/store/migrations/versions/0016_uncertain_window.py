"""The end of an uncertain attempt's window (`uncertain_until`): the provider's record of it was
created between `uncertain_since` and this, which keeps other sends to the same recipient with
the same body out of the match.
"""

from alembic import op

from engage.store.migrations.columns import instant

revision, down_revision = "0016", "0015"


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(instant("uncertain_until", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("uncertain_until")
