"""Name search ignores accents ("garcia" finds "García"): the function `engage_fold(text)` on
PostgreSQL (engage.text.fold, in SQL), and the name prefix indexes rebuilt on folded names
instead of lower-cased ones. SQLite gets the function from each connection (engage.store.db).
"""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.fold_table import FOLD_0018 as FOLD

revision, down_revision = "0018", "0017"

COLUMNS = ("last_name", "first_name")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FOLD)
    for column in COLUMNS:
        op.drop_index(f"ix_patient_{column}_prefix", "patient")
        _index(f"ix_patient_{column}_folded", sa.func.engage_fold, column, "folded")


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_patient_{column}_folded", "patient")
        _index(f"ix_patient_{column}_prefix", sa.func.lower, column, "lower")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION engage_fold(text)")


def _index(
    name: str, function: Callable[..., sa.ColumnElement[str]], column: str, label: str
) -> None:
    op.create_index(
        name,
        "patient",
        [function(sa.literal_column(column)).label(f"{label}_{column}")],
        postgresql_ops={f"{label}_{column}": "text_pattern_ops"},
    )
