"""The front desk types names without accents: "garcia" finds "García" on both databases, and
the database folds every letter exactly as engage.text.fold does (the index depends on it)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engage.patients.records import find, search_query
from engage.store.db import make_engine, session_factory
from engage.store.patients import Patient
from engage.text.fold import ACCENTED, fold
from tests.factories import add_patient


def test_the_database_folds_every_letter_as_python_does(engine: sa.Engine) -> None:
    # Printable ASCII takes PostgreSQL's fast path (migration 0019), anything else the table.
    samples = [*ACCENTED, "García Núñez", "ŁUKASZ Ødegaard", "Zoë O'Brien-Smith", "Ωmega", ""]
    samples += ["MCDONALD-Smith Jr.", " ~Tab\there", "ÀBC", "abcÀ", "Ab\x7fc", "é" * 40]
    with engine.connect() as connection:
        folded = [
            connection.execute(sa.text("SELECT engage_fold(:t)"), {"t": s}).scalar_one()
            for s in samples
        ]
        assert connection.execute(sa.text("SELECT engage_fold(NULL)")).scalar_one() is None
    assert folded == [fold(s) for s in samples]


def _names(patients: list[object]) -> list[str]:
    return [f"{p.first_name} {p.last_name}" for p in patients]  # type: ignore[attr-defined]


@pytest.fixture
def clinic(session: Session) -> Session:
    for first, last in (("Ana", "García"), ("José", "Núñez"), ("Zoë", "Ødegaard"), ("Ana", "Gil")):
        add_patient(session, first_name=first, last_name=last, phone=None, preferred="email")
    add_patient(session, first_name="Noel", last_name="Garcia", phone=None, preferred="email")
    return session


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("garcia", ["Ana García", "Noel Garcia"]),
        ("GARCÍA", ["Ana García", "Noel Garcia"]),
        ("jose nunez", ["José Núñez"]),
        ("Nunez, Jose", ["José Núñez"]),
        ("zoe", ["Zoë Ødegaard"]),
        ("odeg", ["Zoë Ødegaard"]),
        ("ana g", ["Ana García", "Ana Gil"]),
    ],
)
def test_a_name_typed_with_or_without_accents_finds_the_patient(
    clinic: Session, typed: str, found: list[str]
) -> None:
    assert _names(find(clinic, typed, limit=10, offset=0)) == found


def test_the_api_name_filter_folds_and_takes_wildcards_literally(clinic: Session) -> None:
    assert _names(clinic.scalars(search_query(name="NUN")).all()) == ["José Núñez"]
    assert _names(clinic.scalars(search_query(name="%")).all()) == []
    assert _names(clinic.scalars(search_query(name="a_a")).all()) == []


@pytest.mark.postgres
def test_name_search_reads_the_folded_index_on_postgresql(postgres_db_url: str) -> None:
    engine = make_engine(postgres_db_url)
    clinic = session_factory(engine)()
    add_patient(clinic, first_name="Ana", last_name="García", phone=None, preferred="email")
    add_patient(clinic, first_name="Noel", last_name="Garcia", phone=None, preferred="email")
    clinic.execute(
        sa.text("""
        INSERT INTO patient (first_name, last_name, timezone, locale, preferred_channel,
                             email, created_at, updated_at)
        SELECT 'P' || i, 'Name' || i, 'UTC', 'en', 'email', 'p' || i || '@example.org',
               now(), now()
        FROM generate_series(1, 5000) AS i""")
    )
    clinic.commit()
    clinic.execute(sa.text("ANALYZE patient"))
    found, plan = _found_and_plan(engine, clinic, "garcia", limit=10)
    assert _names(found) == ["Ana García", "Noel Garcia"]
    clinic.close()
    engine.dispose()
    assert "Seq Scan" not in plan, plan
    assert "ix_patient_last_name_folded" in plan or "ix_patient_name_order" in plan, plan


@pytest.mark.postgres
def test_folding_a_plain_name_costs_no_accent_table_on_postgresql(postgres_db_url: str) -> None:
    """engage_fold is inlined into the query with its fast path: an ASCII name is only
    lower-cased. The 253-letter translate() on every matching row's names (the recheck and the
    sort) took a three-letter prefix to 65-95 ms at a million patients, one letter to seconds."""
    engine = make_engine(postgres_db_url)
    with engine.connect() as connection:
        plan = "\n".join(
            connection.execute(
                sa.text(
                    "EXPLAIN VERBOSE SELECT engage_fold(last_name) FROM patient "
                    "ORDER BY engage_fold(last_name)"
                )
            ).scalars()
        )
    engine.dispose()
    # Inlined (no call to the function per row), and plain names skip translate().
    assert "engage_fold" not in plan, plan
    assert "CASE WHEN" in plan and "THEN lower((last_name)::text)" in plan, plan


def test_names_list_alphabetically_whatever_their_accents(session: Session) -> None:
    for last in ("Zhou", "Álvarez", "Alvord", "Éclair", "Ebert"):
        add_patient(session, first_name="Sam", last_name=last, phone=None, preferred="email")
    listed = [p.last_name for p in find(session, "sam", limit=10, offset=0)]
    assert listed == ["Álvarez", "Alvord", "Ebert", "Éclair", "Zhou"]


@pytest.mark.postgres
def test_a_prefix_matching_many_reads_its_first_page_in_name_order_on_postgresql(
    postgres_db_url: str,
) -> None:
    """One letter matched 66,666 of a million patients and took 1.2 s: every match fetched,
    then sorted. Now the last-name matches are a range of the name-order index read in order
    (migration 0020), merged with the first-name matches."""
    engine = make_engine(postgres_db_url)
    clinic = session_factory(engine)()
    clinic.execute(
        sa.text("""
        INSERT INTO patient (first_name, last_name, timezone, locale, preferred_channel,
                             email, created_at, updated_at)
        SELECT 'P' || i, chr(97 + i % 3) || 'name' || i, 'UTC', 'en', 'email',
               'p' || i || '@example.org', now(), now()
        FROM generate_series(1, 30000) AS i""")
    )
    add_patient(clinic, first_name="Bea", last_name="Zhou", phone=None, preferred="email")
    clinic.commit()
    clinic.execute(sa.text("ANALYZE patient"))
    first_page, plan = _found_and_plan(engine, clinic, "b", limit=51)
    last_page = find(clinic, "b", limit=51, offset=10_000 - 50)
    assert len(first_page) == 51 and all(p.last_name.startswith("b") for p in first_page)
    names = [p.last_name for p in first_page]
    assert names == sorted(names)
    assert [p.last_name for p in last_page][-1] == "Zhou"  # matched by the first name, last
    cursor = clinic.connection().connection.cursor()
    cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_patient_name_order'")
    (definition,) = cursor.fetchone()
    clinic.close()
    engine.dispose()
    assert "Index Scan using ix_patient_name_order" in plan, plan
    # Byte order whatever the database's collation: LIKE 'gar%' is a range of it too.
    assert definition.count('COLLATE "C"') == 2, definition


def _found_and_plan(
    engine: sa.Engine, clinic: Session, text: str, *, limit: int
) -> tuple[list[Patient], str]:
    """`find`'s first page for `text`, and PostgreSQL's plan of the name search it ran."""
    ran: list[tuple[str, object]] = []
    listen = lambda *args: ran.append((args[2], args[3]))  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        found = find(clinic, text, limit=limit, offset=0)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    statement, parameters = next((s, p) for s, p in ran if "engage_fold" in s)
    cursor = clinic.connection().connection.cursor()
    cursor.execute(f"EXPLAIN {statement}", parameters)
    return found, "\n".join(row[0] for row in cursor.fetchall())
