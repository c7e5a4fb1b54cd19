"""Importing patients from CSV: good rows stored whole, bad rows named by line, re-import idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engage.errors import InvalidInput
from engage.patients import importer
from engage.patients.importer import import_csv
from engage.store import AuditLog, Consent, Patient, consented_channels

HEADER = "external_ref,first_name,last_name,phone,email,timezone,locale,sms_consent,email_consent\n"
GOOD = (
    "P-1,Ana,García,(415) 555-2671,Ana@Example.org,America/Los_Angeles,es,yes,no\n"
    "P-2,Ben,Okafor,+1 212 555 0199,,America/New_York,en,1,\n"
)


def write(tmp_path: Path, text: str, name: str = "patients.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_good_rows_are_stored_normalised_with_their_consent(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    report = import_csv(sessions, write(tmp_path, HEADER + GOOD))
    assert (report.created, report.rejected, report.problems) == (2, 0, ())
    with sessions() as session:
        ana = session.scalars(select(Patient).where(Patient.external_ref == "P-1")).one()
        assert (ana.phone, ana.email, ana.locale) == ("+14155552671", "ana@example.org", "es")
        assert consented_channels(ana) == ("sms",)
        assert {(c.channel, c.granted, c.source) for c in ana.consents} == {
            ("sms", True, "csv-import"),
            ("email", False, "csv-import"),
        }
        ben = session.scalars(select(Patient).where(Patient.external_ref == "P-2")).one()
        assert ben.email is None
        assert [c.channel for c in ben.consents] == ["sms"]  # a blank cell records no consent


def test_bad_rows_are_reported_by_file_line_and_field_and_good_rows_still_stored(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = (
        HEADER
        + GOOD
        + "P-3,Cy,Diaz,12345,,America/Chicago,en,no,no\n"  # line 4
        + 'P-4,"Dee\nDee",Ek,,dee@example.org,Mars/Olympus,fr,no,maybe\n'  # lines 5-6
        + "P-5,Eve,Fox,,eve@example.org,UTC,en,yes,no\n"  # line 7
    )
    report = import_csv(sessions, write(tmp_path, text))
    assert report.problems == (
        "patients.csv:4: phone: not a valid phone number for its country",
        "patients.csv:5: timezone: unknown time zone 'Mars/Olympus': "
        "expected a city such as Chicago or an IANA name such as America/New_York",
        "patients.csv:5: locale: Input should be 'en' or 'es'",
        "patients.csv:5: email_consent: expected yes/no, true/false or 1/0, not 'maybe'",
        "patients.csv:7: sms_consent: yes, but there is no phone",
    )
    assert (report.created, report.rejected) == (2, 3)
    with sessions() as session:
        assert count(session, Patient) == 2


def test_a_rejected_row_leaves_nothing_behind_not_even_its_consent(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + "P-9,Gil,Ho,+14155550100,,UTC,en,yes,perhaps\n"
    report = import_csv(sessions, write(tmp_path, text))
    assert report.rejected == 1
    with sessions() as session:
        assert (count(session, Patient), count(session, Consent)) == (0, 0)


def test_reimporting_the_same_file_changes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, HEADER + GOOD)
    import_csv(sessions, path)
    again = import_csv(sessions, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with sessions() as session:
        assert (count(session, Patient), count(session, Consent)) == (2, 3)


def test_reimport_matches_the_same_name_on_phone_and_updates_only_what_changed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_csv(sessions, write(tmp_path, HEADER + GOOD))
    changed = (
        "first_name,last_name,phone,email,timezone,sms_consent,email_consent\n"
        "Ana,García,+14155552671,,America/Chicago,no,\n"  # matched on phone, same name
        "Ben,Okafor,,,America/New_York,,\n"  # no key at all: rejected
    )
    report = import_csv(sessions, write(tmp_path, changed, "again.csv"))
    assert report.problems == ("again.csv:3: phone, email: a patient needs a phone or an email",)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    with sessions() as session:
        ana = session.scalars(select(Patient).where(Patient.external_ref == "P-1")).one()
        assert ana.timezone == "America/Chicago"
        assert ana.email == "ana@example.org"  # a blank cell never clears a stored value
        assert consented_channels(ana) == ()  # SMS consent withdrawn, email never given
        updates = session.scalars(
            select(AuditLog).where(AuditLog.action == "patient.import-update")
        ).all()
        assert [(a.entity_id, a.after) for a in updates] == [
            (str(ana.id), {"fields": ["timezone"], "sms_consent": False})
        ]


def test_another_name_on_a_stored_phone_is_a_conflict_not_a_rename(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # Before: "Maria Lopez" on Ana's phone renamed Ana, and the summary said "1 updated".
    import_csv(sessions, write(tmp_path, HEADER + GOOD))
    text = "first_name,last_name,phone,timezone\nMaria,Lopez,+14155552671,UTC\n"
    report = import_csv(sessions, write(tmp_path, text, "other.csv"))
    assert (report.updated, report.conflicts) == (0, 1)
    assert report.problems == (
        "other.csv:2: phone: belongs to patient 1, of another name: a conflict for staff, "
        "not applied (give the row an external_ref to add a family member)",
    )
    assert "1 conflicts" in report.summary
    with sessions() as session:
        ana = session.scalars(select(Patient).where(Patient.external_ref == "P-1")).one()
        assert (ana.first_name, ana.last_name, ana.timezone) == (
            "Ana",
            "García",
            "America/Los_Angeles",
        )


def test_another_name_under_a_stored_external_ref_is_a_conflict_naming_line_and_field(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_csv(sessions, write(tmp_path, HEADER + GOOD))
    text = HEADER + "P-1,Ana,Reyes,(415) 555-2671,,UTC,es,yes,no\n"
    report = import_csv(sessions, write(tmp_path, text, "renamed.csv"))
    assert report.problems == (
        "renamed.csv:2: last_name: differs from that of patient 1, stored under external_ref "
        "P-1: a conflict for staff, not applied",
    )
    assert (report.updated, report.conflicts) == (0, 1)
    with sessions() as session:
        ana = session.scalars(select(Patient).where(Patient.external_ref == "P-1")).one()
        assert (ana.last_name, ana.timezone) == ("García", "America/Los_Angeles")


def test_a_family_on_one_phone_is_imported_as_two_patients_and_reimports_unchanged(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    family = HEADER + (
        "P-1,Ana,García,(415) 555-2671,,America/Los_Angeles,es,yes,no\n"
        "P-7,Luis,García,415-555-2671,,America/Los_Angeles,es,yes,no\n"
    )
    path = write(tmp_path, family)
    first = import_csv(sessions, path)
    assert (first.created, first.problems) == (2, ())
    again = import_csv(sessions, path)
    assert (again.created, again.updated, again.unchanged, again.problems) == (0, 0, 2, ())
    with sessions() as session:
        phones = session.scalars(select(Patient.phone).order_by(Patient.id)).all()
        assert phones == ["+14155552671", "+14155552671"]


def test_a_second_row_with_the_same_name_and_phone_is_rejected_naming_the_first(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + GOOD + "P-7,Ana,García,415-555-2671,,UTC,en,no,no\n"
    report = import_csv(sessions, write(tmp_path, text))
    assert report.problems == ("patients.csv:4: phone: same as line 2",)
    assert report.created == 2


def test_a_repeat_batches_after_its_first_row_is_still_named_by_that_line(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Earlier rows are remembered outside the process's memory, batch by batch.
    monkeypatch.setattr(importer, "BATCH_SIZE", 1)
    text = (
        HEADER
        + GOOD
        + (
            ",Maria,Lopez,(415) 555-2671,,UTC,en,no,no\n"  # Ana's phone, another name, no ref
            "P-2,Ben,Okafor,,ben@example.org,UTC,en,no,no\n"  # line 3's ref
        )
    )
    report = import_csv(sessions, write(tmp_path, text))
    assert report.created == 2
    assert report.problems == (
        "patients.csv:4: phone: same as line 2, of another name: a conflict for staff "
        "(give each row an external_ref to add a family member)",
        "patients.csv:5: external_ref: same as line 3",
    )


def test_rows_are_written_in_batches_with_progress(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    rows = "".join(f"R{i},Pat,No{i},,p{i}@example.org,UTC,en,no,yes\n" for i in range(5))
    seen: list[tuple[int, int]] = []
    report = import_csv(
        sessions, write(tmp_path, HEADER + rows), on_progress=lambda *a: seen.append(a)
    )
    assert report.created == 5
    assert seen == [(2, 5), (4, 5), (5, 5)]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("first_name,last_name,phone,timezone,phnoe\n", "unknown column 'phnoe'"),
        ("first_name,phone,timezone\n", "missing column 'last_name'"),
        ("", "empty file: expected a header row"),
    ],
)
def test_a_bad_header_stops_the_import_before_anything_is_written(
    sessions: sessionmaker[Session], tmp_path: Path, header: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_csv(sessions, write(tmp_path, header + "A,B,+14155550100,UTC,x\n" * bool(header)))
    assert str(caught.value).startswith(f"patients.csv:1: {problem}")
    with sessions() as session:
        assert count(session, Patient) == 0


def test_the_documented_sample_imports_clean_and_reimporting_it_changes_nothing(
    sessions: sessionmaker[Session], repo_root: Path
) -> None:
    """README: "re-importing the same file changes nothing" (docs/patients-import.md)."""
    sample = repo_root / "engage" / "patients" / "sample.csv"
    assert sample.read_text(encoding="utf-8") in (repo_root / "docs/patients-import.md").read_text(
        encoding="utf-8"
    )
    first = import_csv(sessions, sample)
    assert (first.created, first.problems) == (3, ())
    with sessions() as session:
        before = (count(session, Patient), count(session, Consent), count(session, AuditLog))
    again = import_csv(sessions, sample)
    assert (again.created, again.updated, again.unchanged, again.problems) == (0, 0, 3, ())
    with sessions() as session:
        after = (count(session, Patient), count(session, Consent), count(session, AuditLog))
    assert after == (before[0], before[1], before[2] + 1)  # only the import's own audit entry
