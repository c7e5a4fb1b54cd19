"""Uncertain outcomes: the `uncertain` message state (the request went out, no answer came back)
and `uncertain_since`, which makes every later attempt ask the provider before sending again.
"""

from alembic import op

from engage.store.migrations.columns import MESSAGE_STATES, in_values, instant

revision, down_revision = "0015", "0014"

BEFORE = MESSAGE_STATES
AFTER = (*BEFORE, "uncertain")


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(instant("uncertain_since", nullable=True))
        batch.drop_constraint(op.f("ck_message_state"), type_="check")
        batch.create_check_constraint(op.f("ck_message_state"), in_values("state", AFTER))


def downgrade() -> None:
    op.execute("UPDATE message SET state = 'sending' WHERE state = 'uncertain'")
    with op.batch_alter_table("message") as batch:
        batch.drop_constraint(op.f("ck_message_state"), type_="check")
        batch.create_check_constraint(op.f("ck_message_state"), in_values("state", BEFORE))
        batch.drop_column("uncertain_since")
