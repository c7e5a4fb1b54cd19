"""The column and constraint shapes the migration files share: a timestamp, a named primary key,
a named foreign key, a column checked against a list of values, and a column of each plain type
(not null unless asked), so a table is a list of its columns' names and types.

A migration is history, so what these build must never change once a revision uses them (an
edit here would alter what an old revision creates): add a new factory instead of editing one.
tests/integration/test_store_migrations.py proves the migrated schema matches the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

ROLES = ("staff", "ops", "admin")  # of API tokens (0002) and console users (0005)
# The message states as 0001 created them (0015 adds `uncertain`).
MESSAGE_STATES = (
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


def instant(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """A moment: `timestamptz` on PostgreSQL, a naive UTC reading on SQLite."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def stamps() -> list[sa.Column[object]]:
    """`created_at` and `updated_at`, the two moments every record with a life carries."""
    return [instant("created_at"), instant("updated_at")]


def key(table: str) -> list[SchemaItem]:
    """The integer `id` column and its primary key `pk_<table>`."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """`column` refers to `target.id`, named `fk_<table>_<column>_<target>`."""
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def in_values(column: str, values: tuple[str, ...]) -> str:
    """The SQL condition `column IN ('a', 'b', ...)`."""
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


def one_of(table: str, column: str, values: tuple[str, ...]) -> list[SchemaItem]:
    """A 16-character `column` and its check `ck_<table>_<column>` that it is one of `values`."""
    return [
        sa.Column(column, sa.String(16), nullable=False),
        sa.CheckConstraint(in_values(column, values), name=op.f(f"ck_{table}_{column}")),
    ]


def string(name: str, length: int, *, nullable: bool = False) -> sa.Column[object]:
    """A `varchar(length)`."""
    return sa.Column(name, sa.String(length), nullable=nullable)


def text(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """A text of any length."""
    return sa.Column(name, sa.Text(), nullable=nullable)


def integer(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """An integer (a count, or the id of another row, whose foreign key the table names)."""
    return sa.Column(name, sa.Integer(), nullable=nullable)


def boolean(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """A true or false."""
    return sa.Column(name, sa.Boolean(), nullable=nullable)


def json_value(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """A JSON document (`json` on PostgreSQL, text on SQLite)."""
    return sa.Column(name, sa.JSON(), nullable=nullable)


def index(table: str, *columns: str) -> None:
    """`op.create_index` of `columns` of `table`, named `ix_<table>_<columns>`."""
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))
