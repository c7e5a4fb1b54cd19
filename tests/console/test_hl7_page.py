"""The HL7 feed page: dead letters (AE) for staff and operators, never the message itself."""

from __future__ import annotations

from engage.store import Hl7Message, Hl7State
from tests.api_kit import NOW
from tests.console_kit import Console

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
        assert 'href="/console/hl7"' in page.text  # in the menu for every role


def test_no_dead_letters_says_so(staff: Console) -> None:
    page = staff.client.get("/console/hl7").text
    assert "No dead letters." in page and "none received yet" in page
