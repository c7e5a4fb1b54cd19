"""Uncertain outcomes: the `uncertain` message state (the request went out, no answer came back)
and `uncertain_since`, which makes every later attempt ask the provider before sending again.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0015", "0014"

BEFORE = (
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "undelivered",
    "cancelled",
    "suppressed",
    "flagged",
)
AFTER = (*BEFORE, "uncertain")


def _check(states: tuple[str, ...]) -> str:
    return "state IN ({})".format(", ".join(f"'{state}'" for state in states))


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("uncertain_since", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f("ck_message_state"), type_="check")
        batch.create_check_constraint(op.f("ck_message_state"), _check(AFTER))


def downgrade() -> None:
    op.execute("UPDATE message SET state = 'sending' WHERE state = 'uncertain'")
    with op.batch_alter_table("message") as batch:
        batch.drop_constraint(op.f("ck_message_state"), type_="check")
        batch.create_check_constraint(op.f("ck_message_state"), _check(BEFORE))
        batch.drop_column("uncertain_since")
