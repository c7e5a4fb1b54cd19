"""Names in the order the lists show them, indexed: (folded last name, folded first name, id),
byte order ("C") on PostgreSQL, so a name search that matches many patients (one letter) reads
its first page from the index in order and stops, instead of fetching every match and sorting.
Measured at a million patients: "s" matched 66,666 and took 1.2 s. 0018's indexes are
text_pattern_ops: they serve LIKE but never ORDER BY. Byte order is alphabetical for folded
names (lower-case, accents off) whatever the database's collation, and lets LIKE 'gar%' use
this index as a range too. SQLite's default order is already byte order.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0020", "0019"


def upgrade() -> None:
    collate = ' COLLATE "C"' if op.get_bind().dialect.name == "postgresql" else ""
    op.create_index(
        "ix_patient_name_order",
        "patient",
        [
            sa.text(f"engage_fold(last_name){collate}"),
            sa.text(f"engage_fold(first_name){collate}"),
            sa.text("id"),
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_patient_name_order", "patient")
