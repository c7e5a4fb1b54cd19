"""Bulk writes for set-wise paths (bulk enrollment): many rows of one table in one go.

On PostgreSQL the rows go through COPY, ids drawn from the table's sequence first: a multi-row
INSERT ... RETURNING of thousands of rows is one long statement text per page, which the driver
parses again each time (most of a bulk enrollment's CPU when measured), and one INSERT per row
costs the server a statement each. Elsewhere (SQLite) they are ordinary ORM bulk INSERTs.
Rows must name every column they set; a column left out is NULL (model defaults are not applied
by COPY), and values are what the model's types take: aware datetimes, enums, dicts for JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import JSON, func, insert, select
from sqlalchemy import Enum as SAEnum
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from engage.store.base import UTCDateTime


def insert_returning_ids(
    session: Session, model: type[Any], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `rows` into `model`'s table in the caller's transaction; their ids, in order."""
    if not rows:
        return []
    if not _postgres(session):
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(session.execute(statement, list(rows)).scalars())
    sequence = func.pg_get_serial_sequence(model.__table__.name, "id")
    series = func.generate_series(1, len(rows))
    ids = list(session.scalars(select(func.nextval(sequence)).select_from(series)))
    insert_rows(session, model, [{**row, "id": i} for i, row in zip(ids, rows, strict=True)])
    return ids


def insert_rows(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) into `model`'s table, in the caller's transaction."""
    if not rows:
        return
    if not _postgres(session):
        session.execute(insert(model), list(rows))
        return
    table = model.__table__
    names = list(rows[0])
    convert = [
        (k, fn) for k, n in enumerate(names) if (fn := _converter(table.c[n].type)) is not None
    ]
    columns = ", ".join(f'"{n}"' for n in names)
    raw = session.connection().connection.driver_connection
    if raw is None:  # a pooled connection always has its driver's
        raise RuntimeError("no driver connection to COPY through")
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    dbapi = session.get_bind().dialect.loaded_dbapi
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [row[n] for n in names]
                for k, fn in convert:
                    values[k] = fn(values[k])
                copy.write_row(values)
    except dbapi.Error as exc:
        # As SQLAlchemy raises a failed statement (IntegrityError for a unique key, ...): callers
        # that retry a race, or name a fault, catch the same classes whichever way rows went in.
        # No parameters: the rows hold contact data.
        raise DBAPIError.instance(statement, None, exc, dbapi.Error, hide_parameters=True) from exc


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _converter(kind: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """What a value of this column type needs before COPY (None: the driver takes it as is)."""
    if isinstance(kind, JSON):
        return json.dumps  # None too: the JSON type stores None as JSON null
    if isinstance(kind, SAEnum):
        return _enum_value
    if isinstance(kind, UTCDateTime):
        return _aware
    return None


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass an aware datetime")
    return value
