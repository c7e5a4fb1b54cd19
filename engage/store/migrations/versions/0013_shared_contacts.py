"""Patients may share a phone or an email (a family on one number): the unique constraints on
patient.phone and patient.email become plain indexes, still used to find who a number is.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0013", "0012"


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.drop_constraint("uq_patient_phone", type_="unique")
        batch.drop_constraint("uq_patient_email", type_="unique")
        batch.create_index("ix_patient_phone", ["phone"])
        batch.create_index("ix_patient_email", ["email"])
    _name_prefix_indexes()


def _name_prefix_indexes() -> None:
    # SQLite's batch mode rebuilds the table and cannot carry expression indexes over (0007's).
    if op.get_bind().dialect.name != "sqlite":
        return
    for column in ("last_name", "first_name"):
        op.create_index(
            f"ix_patient_{column}_prefix",
            "patient",
            [sa.func.lower(sa.literal_column(column)).label(f"lower_{column}")],
            if_not_exists=True,
        )


def downgrade() -> None:
    # Fails, as it should, once two patients share a phone or an email.
    with op.batch_alter_table("patient") as batch:
        batch.drop_index("ix_patient_email")
        batch.drop_index("ix_patient_phone")
        batch.create_unique_constraint("uq_patient_email", ["email"])
        batch.create_unique_constraint("uq_patient_phone", ["phone"])
    _name_prefix_indexes()
