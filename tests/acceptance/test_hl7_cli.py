"""`engage hl7 failed list|reapply` as staff run them: a dead letter is seen, its cause fixed,
and re-applied once (the console's button calls the same `engage.hl7.intake.reapply`)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from engage.cli.main import app
from engage.hl7.intake import Intake
from engage.store import Appointment, AppointmentState, make_engine
from engage.store.hl7 import Hl7Message, Hl7State
from tests.factories import NOW, add_patient
from tests.hl7_kit import REF, clinic_schedule, fixture

Engage = Callable[..., Result]


@pytest.fixture
def engage(env: dict[str, str]) -> Engage:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), env=env)

    assert run("db", "upgrade").exit_code == 0
    return run


@pytest.fixture
def engine(env: dict[str, str]) -> sa.Engine:
    return make_engine(env["ENGAGE_DATABASE_URL"])


def _dead_letter(engine: sa.Engine) -> int:
    """An SIU for a patient engage has not seen yet: answered AE, kept as a dead letter."""
    assert (
        Intake(engine, clinic_schedule(), clock=lambda: NOW).handle(fixture("siu_s12")).code == "AE"
    )
    with Session(engine) as session:
        return session.scalars(sa.select(Hl7Message.id)).one()


def test_a_dead_letter_is_listed_then_reapplied_once_its_cause_is_fixed(
    engage: Engage, engine: sa.Engine
) -> None:
    journal_id = _dead_letter(engine)
    [listed] = json.loads(engage("hl7", "failed", "list", "--json").stdout)
    assert (listed["id"], listed["error_field"], listed["attempts"]) == (journal_id, "PID-3", 1)
    still = engage("hl7", "failed", "reapply", str(journal_id))
    assert still.exit_code == 1 and f"{journal_id}: failed" in still.stdout  # cause not fixed yet
    with Session(engine) as session:
        add_patient(session, external_ref=REF, timezone="America/Los_Angeles")  # the fix
    done = engage("hl7", "failed", "reapply", str(journal_id))
    assert done.exit_code == 0 and f"{journal_id}: applied" in done.stdout
    with Session(engine) as session:
        row = session.get(Hl7Message, journal_id)
        assert row is not None and (row.state, row.attempts) == (Hl7State.APPLIED, 3)
        assert session.scalars(sa.select(Appointment.state)).one() == AppointmentState.SCHEDULED
    assert json.loads(engage("hl7", "failed", "list", "--json").stdout) == []
    again = engage("hl7", "failed", "reapply", str(journal_id))
    assert again.exit_code == 1 and "not a dead letter" in again.stderr  # applied once only


def test_reapply_all_and_unknown_ids(engage: Engage, engine: sa.Engine) -> None:
    assert engage("hl7", "failed", "reapply").exit_code == 2  # neither ids nor --all
    missing = engage("hl7", "failed", "reapply", "4242")
    assert missing.exit_code == 1 and "hl7 message 4242 not found" in missing.stderr
    journal_id = _dead_letter(engine)
    with Session(engine) as session:
        add_patient(session, external_ref=REF, timezone="America/Los_Angeles")
    done = engage("hl7", "failed", "reapply", "--all")
    assert done.exit_code == 0 and f"{journal_id}: applied" in done.stdout
