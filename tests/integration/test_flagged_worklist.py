"""Staff's worklist of flagged safety messages, on SQLite and PostgreSQL: who to call, resolving
one (audited, gone from the list and from the flagged count), and one wording to search for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engage.channels.file import FileChannel
from engage.errors import Conflict, InvalidInput, NotFound
from engage.ops import worklist
from engage.ops.failed import FailedFilter, list_failed
from engage.ops.metrics_scrape import OutboxCollector
from engage.planning.reasons import RESOLVED_REACHED, STAFF_MUST_CALL
from engage.store import AuditLog, MessageState
from tests.api_kit import Api, build_api
from tests.delivery_kit import Kit, build_kit

S = MessageState
FIRST = "2027-03-20T10:00:00-07:00"
END = "2027-03-20T10:45:00-07:00"


@pytest.fixture
def kit(db_url: str, tmp_path: Path) -> Kit:
    outbox = FileChannel(tmp_path / "outbox")
    return build_kit(db_url, tmp_path / "templates", {"sms": outbox, "email": outbox})


def flagged_at_send_time(kit: Kit) -> int:
    """A critical SMS whose patient closed every channel before it was due."""
    patient = kit.patient(sms=False, email=False, name="Rosa")
    message = kit.message(patient, step="safety", critical=True)
    kit.run_due()
    assert kit.get(message).state == S.FLAGGED
    return message


def flagged_count(kit: Kit) -> float:
    metrics = OutboxCollector(kit.sessions, kit.clock).collect()
    family = next(m for m in metrics if m.name == "engage_messages")
    return sum(s.value for s in family.samples if s.labels["state"] == "flagged")


def test_the_worklist_shows_the_patients_name_phone_and_why(kit: Kit) -> None:
    message = flagged_at_send_time(kit)
    with kit.sessions() as s:
        [item] = worklist.flagged(s)
    assert item.message_id == message
    assert item.patient_name == "Rosa Test" and item.phone and item.phone.startswith("+1415555")
    assert item.reason.startswith(STAFF_MUST_CALL)


def test_resolving_clears_the_message_from_the_worklist_and_the_flagged_count(kit: Kit) -> None:
    message = flagged_at_send_time(kit)
    assert flagged_count(kit) == 1
    with kit.sessions.begin() as s:
        done = worklist.resolve(
            s,
            message,
            "reached",
            " Called, told her about the ride home ",
            actor="staff:li",
            now=kit.clock.now,
        )
    assert done.reason == RESOLVED_REACHED
    stored = kit.get(message)
    assert stored.state == S.CANCELLED and stored.reason == RESOLVED_REACHED
    with kit.sessions() as s:
        assert worklist.flagged(s) == []
        assert list_failed(s, FailedFilter(reason=STAFF_MUST_CALL)) == []
        row = s.scalars(select(AuditLog).where(AuditLog.action == "message.flag-resolved")).one()
    assert flagged_count(kit) == 0
    assert row.actor == "staff:li" and row.entity_id == str(message)
    assert row.after == {"resolution": "reached", "note": "Called, told her about the ride home"}


def test_a_message_is_resolved_once_and_only_with_a_note(kit: Kit) -> None:
    message = flagged_at_send_time(kit)
    with kit.sessions.begin() as s, pytest.raises(InvalidInput, match="note: required"):
        worklist.resolve(s, message, "unreachable", "  ", actor="staff", now=kit.clock.now)
    with kit.sessions.begin() as s, pytest.raises(InvalidInput, match="resolution: 'maybe'"):
        worklist.resolve(s, message, "maybe", "tried", actor="staff", now=kit.clock.now)
    with kit.sessions.begin() as s, pytest.raises(NotFound, match="message 999999 not found"):
        worklist.resolve(s, 999999, "unreachable", "tried", actor="staff", now=kit.clock.now)
    with kit.sessions.begin() as s:
        worklist.resolve(s, message, "unreachable", "no answer", actor="staff", now=kit.clock.now)
    with kit.sessions.begin() as s, pytest.raises(Conflict, match="is cancelled, not flagged"):
        worklist.resolve(s, message, "reached", "again", actor="staff", now=kit.clock.now)


def test_failed_list_reason_staff_must_call_finds_send_time_flags(kit: Kit) -> None:
    message = flagged_at_send_time(kit)
    with kit.sessions() as s:
        found = list_failed(s, FailedFilter(reason="staff must call"))
    assert [r.id for r in found] == [message]


# -- over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


def enroll_without_consent(api: Api) -> dict[str, Any]:
    patient = api.patient(sms=False, email=False, first_name="Marta")
    answer = api.post(
        f"/patients/{patient['id']}/enrollments",
        json={
            "sequence": "post-infusion",
            "events": [
                {"name": "infusion.start", "at": FIRST},
                {"name": "infusion.end", "at": END},
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    return patient


def test_a_step_flagged_at_planning_is_found_by_staff_must_call_and_resolved_over_http(
    api: Api,
) -> None:
    patient = enroll_without_consent(api)
    found = api.get("/ops/failed", role="ops", params={"reason": "staff must call"}).json()
    assert found and {f["state"] for f in found} == {"flagged"}
    listed = api.get("/flagged").json()
    assert {item["message_id"] for item in listed} == {f["id"] for f in found}
    first = listed[0]
    assert first["patient_name"] == f"Marta {patient['last_name']}"
    assert first["phone"] == patient["phone"]
    resolved = api.post(
        f"/flagged/{first['message_id']}/resolve",
        json={"resolution": "unreachable", "note": "voicemail left"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["reason"] == "resolved by staff: could not reach the patient"
    again = api.post(
        f"/flagged/{first['message_id']}/resolve", json={"resolution": "reached", "note": "x"}
    )
    assert again.status_code == 409
    assert first["message_id"] not in {item["message_id"] for item in api.get("/flagged").json()}
