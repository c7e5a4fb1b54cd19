"""The HL7 feed page: dead letters (AE) for staff and operators, never the message itself."""

from __future__ import annotations

import sqlalchemy as sa

from engage.hl7.intake import Intake
from engage.store import Appointment, Hl7Message, Hl7State
from engage.store.audit import AuditLog
from tests.api_kit import NOW
from tests.console_kit import Console
from tests.factories import add_patient
from tests.hl7_kit import REF, clinic_schedule, fixture

RAW = "MSH|^~\\&|EPIC|CLINIC|||20270310||SIU^S12|CTRL-7|P|2.5\rPID|1||MRN-SECRET||Doe^Jane"


def _dead_letter(console: Console, control: str = "CTRL-7", state=Hl7State.FAILED) -> int:
    with console.sessions.begin() as s:
        row = Hl7Message(
            sender="EPIC^CLINIC",
            control_id=control,
            message_type="SIU^S12",
            received_at=NOW,
            raw=RAW,
            state=state,
            ack_code="AE" if state == Hl7State.FAILED else "AA",
            reason="PID-3: no patient with this MRN",
            error_field="PID-3",
            attempts=2,
            updated_at=NOW,
        )
        s.add(row)
        s.flush()
        return row.id


def test_staff_and_operators_see_the_dead_letters_without_their_content(
    console: Console,
) -> None:
    dead = _dead_letter(console)
    _dead_letter(console, "CTRL-8", state=Hl7State.APPLIED)
    for role in ("staff", "ops"):
        console.client.cookies.clear()
        console.sign_in(role)
        page = console.client.get("/console/hl7")
        assert page.status_code == 200, role
        assert f"<td>{dead}</td><td>SIU^S12</td><td>CTRL-7</td>" in page.text
        assert "PID-3: no patient with this MRN" in page.text and "<td>2</td>" in page.text
        assert "CTRL-8" not in page.text  # applied: not a dead letter
        assert "MRN-SECRET" not in page.text and "Doe^Jane" not in page.text
        assert "engage hl7 failed reapply" in page.text
        assert (f"/console/hl7/{dead}/reapply" in page.text) == (
            role == "ops"
        )  # the button is for operators
        assert 'href="/console/hl7"' in page.text  # in the menu for every role


def test_no_dead_letters_says_so(staff: Console) -> None:
    page = staff.client.get("/console/hl7").text
    assert "No dead letters." in page and "none received yet" in page


def _received_for_unknown_patient(console: Console) -> int:
    """The golden SIU arrives before its patient exists: answered AE, kept as a dead letter."""
    feed = Intake(console.runtime.engine, clinic_schedule(), clock=lambda: NOW)
    assert feed.handle(fixture("siu_s12")).code == "AE"
    with console.sessions() as s:
        return s.scalars(sa.select(Hl7Message.id)).one()


def _row(console: Console, journal_id: int) -> Hl7Message:
    with console.sessions() as s:
        return s.scalars(sa.select(Hl7Message).where(Hl7Message.id == journal_id)).one()


def test_an_operator_reapplies_a_dead_letter_once_its_cause_is_fixed(console: Console) -> None:
    journal_id = _received_for_unknown_patient(console)
    console.sign_in("ops")
    page = console.client.get("/console/hl7").text
    assert f'action="/console/hl7/{journal_id}/reapply"' in page and "Re-apply" in page

    still = console.post(f"/console/hl7/{journal_id}/reapply")
    assert still.status_code == 303
    shown = console.client.get(still.headers["location"]).text
    assert f"Message {journal_id} is still a dead letter" in shown and "PID-3" in shown
    assert (_row(console, journal_id).state, _row(console, journal_id).attempts) == ("failed", 2)

    with console.sessions.begin() as s:  # the cause, fixed: the patient is registered
        add_patient(s, external_ref=REF, timezone="America/Los_Angeles")
    done = console.post(f"/console/hl7/{journal_id}/reapply")
    assert (
        f"Message {journal_id} re-applied: applied."
        in console.client.get(done.headers["location"]).text
    )
    row = _row(console, journal_id)
    assert (row.state, row.attempts) == (Hl7State.APPLIED, 3)
    assert "re-applied by console:ops" in row.reason
    with console.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 1
        trail = s.scalars(
            sa.select(AuditLog).where(AuditLog.action == "hl7.reapply").order_by(AuditLog.id)
        ).all()
    assert [(a.actor, a.entity_id, (a.after or {})["state"]) for a in trail] == [
        ("console:ops", str(journal_id), "failed"),
        ("console:ops", str(journal_id), "applied"),
    ]
    again = console.post(f"/console/hl7/{journal_id}/reapply")  # no longer a dead letter
    assert again.status_code == 409 and "not a dead letter" in again.text
    assert "/reapply" not in console.client.get("/console/hl7").text


def test_staff_cannot_reapply_and_a_form_without_csrf_is_refused(console: Console) -> None:
    journal_id = _received_for_unknown_patient(console)
    console.sign_in("staff")
    assert f"/console/hl7/{journal_id}/reapply" not in console.client.get("/console/hl7").text
    assert console.post(f"/console/hl7/{journal_id}/reapply").status_code == 403
    console.client.cookies.clear()
    console.sign_in("ops")
    bare = console.client.post(f"/console/hl7/{journal_id}/reapply", follow_redirects=False)
    assert bare.status_code == 403 and "This form has expired" in bare.text
    assert _row(console, journal_id).attempts == 1  # neither request re-applied it
