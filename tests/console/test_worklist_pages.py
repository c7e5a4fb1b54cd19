"""Today's resolve button and the inbox's "mark handled", through the TestClient."""

from __future__ import annotations

from sqlalchemy import select

from engage.ops import worklist
from engage.store import AuditLog, Enrollment, InboundMessage, Message, MessageState, Patient
from engage.store.message_states import transition
from tests.api_kit import NOW
from tests.console_kit import Console


def _flagged(console: Console, name: str = "Rosa") -> tuple[int, int]:
    """A patient with a safety message flagged for staff to call: (patient id, message id)."""
    with console.sessions.begin() as s:
        patient = Patient(
            first_name=name,
            last_name="Diaz",
            phone="+14155550199",
            timezone="America/New_York",
            locale="en",
            preferred_channel="sms",
        )
        s.add(patient)
        s.flush()
        enrollment = Enrollment(patient_id=patient.id, sequence="pre-infusion", enrolled_at=NOW)
        s.add(enrollment)
        s.flush()
        message = Message(
            patient_id=patient.id,
            enrollment_id=enrollment.id,
            sequence="pre-infusion",
            step_id="safety",
            channel="sms",
            template="pre-infusion/safety",
            critical=True,
            due_at=NOW,
        )
        s.add(message)
        s.flush()
        transition(s, message, MessageState.FLAGGED, "staff must call: no channel open", "test")
        return patient.id, message.id


def test_resolving_a_flag_keeps_the_note_and_shows_who_and_when(staff: Console) -> None:
    patient_id, message_id = _flagged(staff)
    page = staff.client.get("/console/").text
    assert f'action="/console/flagged/{message_id}/resolve"' in page
    answer = staff.post(
        f"/console/flagged/{message_id}/resolve",
        {"resolution": "reached", "note": "Called, told about the ride home"},
    )
    assert answer.status_code == 303
    page = staff.client.get(answer.headers["location"]).text
    assert "Resolved: the note is kept." in page
    assert f'action="/console/flagged/{message_id}/resolve"' not in page  # off the list
    resolved = page[page.index('id="h-resolved"') :]
    assert "Rosa Diaz" in resolved and "Called, told about the ride home" in resolved
    assert "by console:staff at 08:00 PST" in resolved  # clinic time, zone named
    with staff.sessions() as s:
        assert s.get(Message, message_id).state == MessageState.CANCELLED
        [row] = s.scalars(select(AuditLog).where(AuditLog.action == "message.flag-resolved"))
        assert row.actor == "console:staff" and row.after["note"].startswith("Called")
    # The patient's timeline shows the note too.
    timeline = staff.client.get(f"/console/patients/{patient_id}").text
    assert "Called, told about the ride home" in timeline


def test_a_resolve_without_a_note_is_refused_and_the_flag_stays(staff: Console) -> None:
    _, message_id = _flagged(staff)
    answer = staff.post(
        f"/console/flagged/{message_id}/resolve", {"resolution": "reached", "note": "  "}
    )
    assert answer.status_code == 400 and "note" in answer.text
    assert "Go back" in answer.text
    with staff.sessions() as s:
        assert s.get(Message, message_id).state == MessageState.FLAGGED


def test_resolving_twice_is_a_conflict_page(staff: Console) -> None:
    _, message_id = _flagged(staff)
    data = {"resolution": "unreachable", "note": "No answer, voicemail left"}
    assert staff.post(f"/console/flagged/{message_id}/resolve", data).status_code == 303
    again = staff.post(f"/console/flagged/{message_id}/resolve", data)
    assert again.status_code == 409 and "not flagged" in again.text


def test_resolve_without_the_csrf_token_is_refused(staff: Console) -> None:
    _, message_id = _flagged(staff)
    answer = staff.client.post(
        f"/console/flagged/{message_id}/resolve",
        data={"resolution": "reached", "note": "x"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    with staff.sessions() as s:
        assert s.get(Message, message_id).state == MessageState.FLAGGED


def test_resolutions_read_back_by_message_and_since(staff: Console) -> None:
    _, message_id = _flagged(staff)
    with staff.sessions.begin() as s:
        worklist.resolve(s, message_id, "reached", "spoke to her", actor="api:x", now=NOW)
    with staff.sessions() as s:
        [note] = worklist.resolutions(s, message_ids=[message_id])
        assert (note.note, note.actor, note.resolution) == ("spoke to her", "api:x", "reached")
        assert worklist.resolutions(s, message_ids=[]) == []
        assert worklist.resolutions(s, since=NOW.replace(year=2028)) == []


def _reply(console: Console, body: str) -> int:
    with console.sessions.begin() as s:
        reply = InboundMessage(from_phone="+14155550100", from_hash="h", body=body, keyword="other")
        s.add(reply)
        s.flush()
        return reply.id


def test_marking_a_reply_handled_moves_it_out_of_replies_to_read(staff: Console) -> None:
    reply = _reply(staff, "Can I bring my daughter?")
    assert "Can I bring my daughter?" in staff.client.get("/console/").text
    answer = staff.post(
        f"/console/inbox/{reply}/handled", {"keyword": "other", "shown": "unhandled"}
    )
    assert answer.status_code == 303
    page = staff.client.get(answer.headers["location"]).text
    assert "Marked handled." in page and "Can I bring my daughter?" not in page
    assert "Can I bring my daughter?" not in staff.client.get("/console/").text
    handled = staff.client.get("/console/inbox?keyword=other&shown=handled").text
    assert "Can I bring my daughter?" in handled and "by console:staff" in handled
    again = staff.post(f"/console/inbox/{reply}/handled", {})
    assert again.status_code == 409 and "already handled by console:staff" in again.text
