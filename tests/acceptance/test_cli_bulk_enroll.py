"""An operator enrolls a file of patients at once: good rows planned, bad rows named by line."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from engage.cli.main import app

PATIENTS = (
    "external_ref,first_name,last_name,phone,email,timezone,locale,sms_consent,email_consent\n"
    "P-1,Ana,García,(415) 555-2671,ana@example.org,America/Los_Angeles,es,yes,yes\n"
    "P-2,Ben,Okafor,(212) 555-0143,ben@example.org,America/New_York,en,yes,yes\n"
    "P-3,Cy,Lee,(312) 555-0188,cy@example.org,America/Chicago,en,yes,yes\n"
)


@pytest.fixture
def engage(env: dict[str, str], tmp_path: Path):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), env=env)

    assert run("db", "upgrade").exit_code == 0
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    assert run("patients", "import", str(patients)).exit_code == 0
    return run


def counts(env: dict[str, str]) -> tuple[int, int]:
    engine = sa.create_engine(env["ENGAGE_DATABASE_URL"])
    with engine.connect() as conn:
        enrollments = conn.execute(sa.text("SELECT count(*) FROM enrollment")).scalar_one()
        messages = conn.execute(sa.text("SELECT count(*) FROM message")).scalar_one()
    engine.dispose()
    return enrollments, messages


def test_a_csv_enrolls_every_good_row_and_names_each_bad_one_at_its_line(
    engage, env, tmp_path: Path
) -> None:
    rows = tmp_path / "booster-due.csv"
    rows.write_text(
        "external_ref,sequence,infusion.start\n"
        "P-1,pre-infusion,2031-03-10T09:00;2031-03-17T09:00\n"
        "P-404,pre-infusion,2031-03-10T09:00\n"
        "P-2,,2031-04-02T10:30\n"
        "P-3,no-such-sequence,2031-03-10T09:00\n",
        encoding="utf-8",
    )
    result = engage("enroll", "--csv", str(rows), "--sequence", "pre-infusion")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("booster-due.csv:3: external_ref:")
    assert "P-404" in lines[0]
    assert lines[1].startswith("booster-due.csv:5: ")
    assert "no-such-sequence" in lines[1]
    assert lines[-1] == "booster-due.csv: 2 enrolled, 2 rejected"
    enrollments, messages = counts(env)
    assert enrollments == 2
    assert messages > 0


def test_a_file_without_a_patient_column_changes_nothing(engage, env, tmp_path: Path) -> None:
    rows = tmp_path / "bad.csv"
    rows.write_text("name,sequence\nAna,pre-infusion\n", encoding="utf-8")
    result = engage("enroll", "--csv", str(rows))
    assert result.exit_code == 1
    assert "bad.csv:1" in result.stderr
    assert counts(env) == (0, 0)
