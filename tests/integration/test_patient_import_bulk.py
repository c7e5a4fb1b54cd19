"""Importing is bulk work: a handful of statements per batch of rows, never one per row.

(Speed itself, 3,000+ patients/s on PostgreSQL, is measured by the benchmarks; counting
statements keeps this test exact on a busy machine.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from engage.patients import importer
from engage.patients.importer import import_csv

ROWS, BATCH = 1000, 100


def write_csv(path: Path, rows: int) -> Path:
    lines = ["external_ref,first_name,last_name,phone,email,timezone,sms_consent,email_consent"]
    lines += [
        f"S{i},Pat,No{i},+1415{3000000 + i},p{i}@example.org,America/New_York,yes,no"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_import_and_reimport_cost_a_few_statements_per_batch(
    engine: sa.Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", BATCH)
    path = write_csv(tmp_path / "many.csv", ROWS)
    batches = ROWS // BATCH
    with counting(engine) as statements:
        assert import_csv(sessions, path).created == ROWS
    # Per batch: look up matching patients, insert patients, insert consents and their ledger
    # entries; then one audit row.
    assert len([s for s in statements if s != "PRAGMA"]) <= 4 * batches + 1
    with counting(engine) as statements:
        assert import_csv(sessions, path).unchanged == ROWS
    # Per batch: look up patients and their consents; nothing to write.
    assert len([s for s in statements if s != "PRAGMA"]) <= 2 * batches + 1
