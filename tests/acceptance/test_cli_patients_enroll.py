"""A clinic's operator sets up the database, imports patients and enrolls one, from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engage.cli.main import app
from engage.store.migrate import head

CSV = (
    "external_ref,first_name,last_name,phone,email,timezone,locale,sms_consent,email_consent\n"
    "P-1,Ana,García,(415) 555-2671,ana@example.org,America/Los_Angeles,es,yes,yes\n"
    "P-2,Ben,Okafor,not-a-phone,ben@example.org,America/New_York,en,no,yes\n"
)


@pytest.fixture
def engage(env: dict[str, str]):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), env=env)

    return run


@pytest.fixture
def imported(engage, tmp_path: Path) -> Path:
    assert engage("db", "upgrade").exit_code == 0
    path = tmp_path / "patients.csv"
    path.write_text(CSV, encoding="utf-8")
    engage("patients", "import", str(path))
    return path


def test_db_upgrade_creates_the_schema_and_prints_the_revision(engage) -> None:
    result = engage("db", "upgrade")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith(f"at revision {head()}")
    assert engage("db", "current").exit_code == 0


def test_commands_on_a_database_never_upgraded_say_what_to_run(engage, tmp_path: Path) -> None:
    result = engage("patients", "list")
    assert result.exit_code == 1
    assert "not initialised; run `engage db upgrade` first" in result.stderr


def test_import_stores_good_rows_reports_bad_ones_and_exits_1(engage, tmp_path: Path) -> None:
    assert engage("db", "upgrade").exit_code == 0
    path = tmp_path / "patients.csv"
    path.write_text(CSV, encoding="utf-8")
    result = engage("patients", "import", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "patients.csv:3: phone: not a phone number",
        "patients.csv: 2 rows: 1 created, 0 updated, 0 unchanged, 1 rejected",
    ]
    listed = engage("patients", "list")
    assert listed.exit_code == 0
    assert "Ana García" in listed.stdout
    assert "sms, email" in listed.stdout


def test_importing_a_clean_file_twice_exits_0_and_changes_nothing(engage, tmp_path: Path) -> None:
    assert engage("db", "upgrade").exit_code == 0
    path = tmp_path / "clean.csv"
    path.write_text(CSV.splitlines(keepends=True)[0] + CSV.splitlines(keepends=True)[1])
    assert engage("patients", "import", str(path)).exit_code == 0
    again = engage("patients", "import", str(path))
    assert again.exit_code == 0
    assert (
        again.stdout.strip() == "clean.csv: 1 rows: 0 created, 0 updated, 1 unchanged, 0 rejected"
    )


def test_a_bad_header_is_one_line_naming_the_column(engage, tmp_path: Path) -> None:
    assert engage("db", "upgrade").exit_code == 0
    path = tmp_path / "typo.csv"
    path.write_text("first_name,last_name,phnoe,timezone\nA,B,+14155550100,UTC\n")
    result = engage("patients", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: typo.csv:1: unknown column 'phnoe'")


def test_enroll_books_the_infusion_and_prints_the_first_due_time(engage, imported: Path) -> None:
    # Naive times are the patient's wall clock (Los Angeles).
    result = engage("enroll", "1", "pre-infusion", "--event", "infusion.start=2099-03-10T09:00")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("enrollment 1: planned ")
    assert "for patient 1 in pre-infusion; first due 2099-03-" in line
    assert "PST (" in line


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("7", "education"), "error: patient 7 not found"),
        (("1", "edukation"), "error: unknown sequence 'edukation'"),
        (
            ("1", "pre-infusion", "--event", "infusion.start=next tuesday"),
            "error: --event 'infusion.start=next tuesday': 'next tuesday' is not an ISO time",
        ),
        (("1", "pre-infusion", "--event", "infusion.start"), "error: --event 'infusion.start': "),
    ],
)
def test_bad_enroll_input_is_one_clear_line_and_exit_1(
    engage, imported: Path, args: tuple[str, ...], error: str
) -> None:
    result = engage("enroll", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(error)
    assert len(result.stderr.strip().splitlines()) == 1


def test_enroll_a_course_books_its_infusion_once_and_the_timeline_shows_it(
    engage, imported: Path
) -> None:
    infusion = "infusion.start=2099-03-10T09:00"
    result = engage("enroll", "1", "pre-infusion,post-infusion", "--event", infusion)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split(" in ")[1].split(";")[0] for line in lines[:2]] == [
        "pre-infusion",
        "post-infusion",
    ]
    assert lines[2] == "appointments: 1 (1 booked now, 0 already booked)"
    again = engage("enroll", "1", "education", "--event", infusion)
    assert again.exit_code == 0, again.output
    assert "(0 booked now, 1 already booked)" in again.stdout
    shown = engage("timeline", "1", "--json")
    assert shown.exit_code == 0, shown.output
    timeline = json.loads(shown.stdout)
    assert timeline["timezone"] == "America/Los_Angeles"
    assert len(timeline["appointments"]) == 1
    first = next(m for m in timeline["messages"] if m["step"] == "first-3d")
    assert first["due_local"] == "2099-03-07T10:00:00-08:00"
    assert first["text"]["body"]
    table = engage("timeline", "1")
    assert table.exit_code == 0 and "PST" in table.stdout


def test_enroll_preview_stores_nothing(engage, imported: Path) -> None:
    result = engage(
        "enroll", "1", "pre-infusion", "--event", "infusion.start=2099-03-10T09:00", "--preview"
    )
    assert result.exit_code == 0, result.output
    assert "first-3d" in result.stdout
    assert json.loads(engage("timeline", "1", "--json").stdout)["messages"] == []


def test_pause_until_resume_and_unenroll_all_of_a_patient(engage, imported: Path) -> None:
    for sequence in ("education", "pre-infusion"):
        assert (
            engage("enroll", "1", sequence, "--event", "infusion.start=2099-03-10T09:00").exit_code
            == 0
        )
    paused = engage(
        "enrollments", "pause", "1", "--reason", "travel", "--until", "2099-01-05T09:00"
    )
    assert paused.exit_code == 0, paused.output
    assert paused.stdout.strip() == "paused enrollment(s) 1, 2 until 2099-01-05 09:00 PST"
    assert engage("enrollments", "resume", "1").stdout.strip() == "resumed enrollment(s) 1, 2"
    gone = engage("enrollments", "unenroll", "1", "--reason", "moved", "--enrollment", "2")
    assert gone.stdout.startswith("unenrolled enrollment 2: ")
    again = engage("enrollments", "resume", "1")
    assert (again.exit_code, again.stderr.strip()) == (
        1,
        "error: patient 1 has no paused enrollment",
    )


def test_patients_consent_shows_the_ledger_and_exports_csv(engage, imported: Path) -> None:
    table = engage("patients", "consent", "1")
    assert table.exit_code == 0, table.output
    assert "channel" in table.stdout and "import" in table.stdout  # a narrow terminal folds it
    exported = engage("patients", "consent", "1", "--csv")
    lines = exported.stdout.strip().splitlines()
    assert lines[0] == "at,channel,decision,source,actor,origin,notice,reason"
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["email", "sms"]
    assert engage("patients", "consent", "99").exit_code == 1
