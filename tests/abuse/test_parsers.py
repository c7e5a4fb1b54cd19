"""The parsers of outside text, given anything: a clear error of the documented kind, never
another exception (hypothesis; issue 14 item 9)."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engage.console.localinput import parse_local
from engage.errors import InvalidInput
from engage.patients.csvfile import read_records
from engage.patients.importer import import_csv
from engage.patients.rows import PatientRow, normalize_phone
from engage.schedule.offsets import parse_offset
from engage.schedule.zones import check_zone
from engage.store import make_engine, session_factory
from engage.store.migrate import upgrade
from engage.store.patients import Patient

ANY_TEXT = st.text(st.characters(codec=None, min_codepoint=0), max_size=80)
HEADER = "first_name,last_name,phone,email,timezone,sms_consent\n"


@given(ANY_TEXT)
def test_phone_parser_raises_only_value_error(text: str) -> None:
    try:
        assert normalize_phone(text).startswith("+")
    except ValueError as exc:
        assert str(exc) in ("not a phone number", "not a valid phone number for its country")


@given(ANY_TEXT)
def test_zone_check_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        check_zone(text)


@given(ANY_TEXT)
def test_offset_parser_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_offset(text)


@given(ANY_TEXT, st.sampled_from(["America/New_York", "Europe/Madrid", "Australia/Lord_Howe"]))
def test_local_time_parser_raises_only_invalid_input(text: str, zone: str) -> None:
    try:
        assert parse_local("starts_at", text, zone).tzinfo is not None
    except InvalidInput as exc:
        assert exc.field == "starts_at"


@given(st.dictionaries(st.sampled_from(list(PatientRow.model_fields)), ANY_TEXT))
def test_a_row_of_any_text_is_valid_or_a_validation_error(cells: dict[str, str]) -> None:
    try:
        row = PatientRow(**cells)
    except ValidationError:
        return
    for value in row.model_dump().values():
        assert not isinstance(value, str) or "\x00" not in value


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_the_csv_reader_raises_only_invalid_input(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        path.write_bytes(HEADER.encode() + data)
        with contextlib.suppress(InvalidInput):
            read_records(path)


@pytest.mark.parametrize("bad", ["Ana\x00", "Ana\ud800"])
def test_a_nul_or_surrogate_in_row_1201_is_that_rows_error_and_the_rest_imports(
    tmp_path: Path, bad: str
) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    upgrade(url)
    rows = [f"P{i},Test,+1415555{i:04d},p{i}@example.org,UTC,yes" for i in range(1500)]
    rows[1200] = rows[1200].replace("P1200", bad)
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8", errors="surrogatepass")
    sessions = session_factory(make_engine(url))
    try:
        report = import_csv(sessions, path, now=datetime(2027, 1, 1, tzinfo=UTC))
    except InvalidInput as exc:  # a surrogate is not UTF-8: the whole file is refused
        assert "UTF-8" in str(exc)
        with sessions() as session:
            assert session.query(Patient).count() == 0
        return
    assert report.rejected == 1
    assert any("p.csv:1202: first_name: " in p and "NUL" in p for p in report.problems)
    with sessions() as session:
        assert session.query(Patient).count() == 1499
