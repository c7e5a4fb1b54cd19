"""An import is whole or nothing, says what it would do before doing it, and reads CSV strictly.

Before: each batch of 1,000 rows was committed on its own, so a failure at row 1,500 left 1,000
patients stored; a quote left open swallowed the rest of the file into one cell; `phnoe` was
"unknown column" with no hint; and there was no way to see an import's changes before making it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engage.errors import InvalidInput
from engage.patients import importer
from engage.patients.check import check_csv
from engage.patients.importer import import_csv
from engage.store import AuditLog, Consent, Patient, make_engine, session_factory
from engage.store.patients import ConsentEvent

HEADER = "external_ref,first_name,last_name,phone,email,timezone,locale,sms_consent\n"


def rows(count: int, start: int = 0) -> str:
    return "".join(
        f"R{i},Pat,No{i},,p{i}@example.org,UTC,en,no\n" for i in range(start, start + count)
    )


def write(tmp_path: Path, text: str, name: str = "patients.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts(sessions: sessionmaker[Session]) -> tuple[int, ...]:
    with sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Patient, Consent, ConsentEvent, AuditLog)
        )


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)


@pytest.mark.usefixtures("small_batches")
def test_an_unclosed_quote_late_in_the_file_names_its_line_and_writes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + rows(5) + 'R9,"Pat,No9,,p9@example.org,UTC,en,no\n' + rows(2, start=10)
    with pytest.raises(InvalidInput) as caught:
        import_csv(sessions, write(tmp_path, text))
    assert str(caught.value) == (
        "patients.csv:7: unclosed quote: a quoted cell starts here and never ends"
    )
    assert counts(sessions) == (0, 0, 0, 0)  # the two batches before it were rolled back


@pytest.mark.usefixtures("small_batches")
def test_a_byte_that_is_not_utf8_late_in_the_file_writes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes((HEADER + rows(5)).encode() + b"R9,P\xe9t,No,,p9@example.org,UTC,en,no\n")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        import_csv(sessions, path)
    assert counts(sessions) == (0, 0, 0, 0)


@pytest.fixture
def failing_postgres(postgres_db_url: str) -> Iterator[sessionmaker[Session]]:
    """PostgreSQL refusing, by a trigger, to store a patient named 'Fault': a database error
    that only the data provokes, in the middle of an import (our code is not touched)."""
    engine = make_engine(postgres_db_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.last_name = 'Fault' THEN RAISE EXCEPTION 'injected fault'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        connection.execute(
            sa.text(
                "CREATE TRIGGER test_fault BEFORE INSERT ON patient "
                "FOR EACH ROW EXECUTE FUNCTION test_fault()"
            )
        )
    try:
        yield session_factory(engine)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER test_fault ON patient"))
            connection.execute(sa.text("DROP FUNCTION test_fault()"))
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.usefixtures("small_batches")
def test_a_database_error_mid_import_leaves_nothing_written(
    failing_postgres: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + rows(5) + "R9,Pat,Fault,,p9@example.org,UTC,en,no\n" + rows(2, start=10)
    with pytest.raises(DBAPIError, match="injected fault"):
        import_csv(failing_postgres, write(tmp_path, text))
    assert counts(failing_postgres) == (0, 0, 0, 0)


@pytest.fixture
def racing_postgres(postgres_db_url: str) -> Iterator[sessionmaker[Session]]:
    """PostgreSQL where storing a patient named 'Racer' first stores another under ref R9, as a
    concurrent writer would between the import's look-up and its write."""
    engine = make_engine(postgres_db_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE FUNCTION test_race() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.last_name = 'Racer' THEN INSERT INTO patient (external_ref, first_name, "
                "last_name, timezone, locale, preferred_channel, created_at, updated_at) VALUES "
                "('R9', 'Other', 'Writer', 'UTC', 'en', 'sms', now(), now()); END IF; "
                "RETURN NEW; END $$"
            )
        )
        connection.execute(
            sa.text(
                "CREATE TRIGGER test_race BEFORE INSERT ON patient "
                "FOR EACH ROW EXECUTE FUNCTION test_race()"
            )
        )
    try:
        yield session_factory(engine)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER test_race ON patient"))
            connection.execute(sa.text("DROP FUNCTION test_race()"))
        engine.dispose()


@pytest.mark.postgres
def test_a_ref_stored_by_another_writer_mid_import_is_retried_then_named(
    racing_postgres: sessionmaker[Session], tmp_path: Path
) -> None:
    # Patients go in by COPY on PostgreSQL; its unique violation must still be the
    # IntegrityError the importer retries on (it was a bare driver error, never retried).
    text = HEADER + "R8,Pat,Racer,,p8@example.org,UTC,en,no\n" + rows(1, start=9)
    with pytest.raises(InvalidInput, match="another writer"):
        import_csv(racing_postgres, write(tmp_path, text))
    assert counts(racing_postgres) == (0, 0, 0, 0)


def test_an_unknown_column_suggests_the_closest(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = "first_name,last_name,phnoe,timezone\nAna,Ruiz,+14155552671,UTC\n"
    with pytest.raises(InvalidInput) as caught:
        import_csv(sessions, write(tmp_path, text))
    assert str(caught.value) == "patients.csv:1: unknown column 'phnoe': did you mean 'phone'?"


def test_a_dry_run_reports_each_rows_changes_old_and_new_and_writes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_csv(sessions, write(tmp_path, HEADER + rows(2)))
    before = counts(sessions)
    text = HEADER + (
        "R0,Pat,No0,,p0@example.org,America/Chicago,en,no\n"  # zone changes
        "R1,Pat,No1,,p1@example.org,UTC,en,no\n"  # unchanged
        "R1b,Pat,No1,,p1@example.org,UTC,en,no\n"  # same name on R1's email: R1 again
        "R5,Eve,Fox,+14155550100,,UTC,es,yes\n"  # new
        "R0,Maria,Lopez,,p0@example.org,UTC,en,no\n"  # R0 under another name
    )
    report = import_csv(sessions, write(tmp_path, text, "next.csv"), dry_run=True)
    assert counts(sessions) == before
    assert report.summary == (
        "5 rows: 1 would be created, 1 would be updated, 1 unchanged, 2 rejected "
        "(dry run: nothing written)"
    )
    by_line = {outcome.line: outcome for outcome in report.outcomes}
    assert (by_line[2].kind, by_line[2].patient_id, by_line[2].changes) == (
        "update",
        1,
        (("timezone", "UTC", "America/Chicago"),),
    )
    assert by_line[3].kind == "unchanged"
    assert by_line[4].problems == ("email: same as line 3",)
    assert by_line[5].kind == "create"
    assert ("sms_consent", None, True) in by_line[5].changes
    assert by_line[6].problems == ("external_ref: same as line 2",)
    # And the import then does exactly that.
    done = import_csv(sessions, write(tmp_path, text, "next.csv"))
    assert (done.created, done.updated, done.unchanged, done.rejected) == (1, 1, 1, 2)


def test_the_consoles_check_is_the_dry_run_naming_conflicts_with_stored_patients(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_csv(sessions, write(tmp_path, HEADER + rows(1)))
    text = HEADER + "R0,Maria,Lopez,,p0@example.org,UTC,en,no\n"
    check = check_csv(write(tmp_path, text, "next.csv"), sessions)
    assert (check.rows, check.valid) == (1, 0)
    [(line, problem)] = check.problems
    assert line == 2 and problem.startswith("first_name: differs from that of patient 1")
    assert counts(sessions)[0] == 1


def test_a_phone_an_earlier_row_gave_another_name_is_a_conflict_unless_the_row_has_a_ref(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # Earlier rows are remembered by digest, not by value: the lines named must still be right.
    text = HEADER + (
        ",Ana,Ruiz,+14155552671,,UTC,en,no\n"  # line 2
        ",Maria,Lopez,(415) 555-2671,,UTC,en,no\n"  # the same phone, another name, no ref
        "R3,Maria,Lopez,+14155552671,,UTC,en,no\n"  # a family member: she has a ref
        ",ANA,ruiz,+14155552671,,UTC,en,no\n"  # line 2 again, whatever the case
    )
    report = import_csv(sessions, write(tmp_path, text))
    assert (report.created, report.rejected) == (2, 2)
    assert report.problems == (
        "patients.csv:3: phone: same as line 2, of another name: a conflict for staff "
        "(give each row an external_ref to add a family member)",
        "patients.csv:5: phone: same as line 2",
    )
