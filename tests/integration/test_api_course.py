"""Staff enroll a course, preview it and its moves, and read a timeline that tells the truth,
typing times as the patient's local wall clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api_kit import Api, build_api

# America/Los_Angeles: 10:00 PDT on these days (DST began 2027-03-14).
INFUSIONS = ["2027-03-20T10:00", "2027-03-27T10:00", "2027-04-03T10:00"]


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


def course(api: Api, patient_id: int, **body: Any) -> dict[str, Any]:
    answer = api.post(
        f"/patients/{patient_id}/course",
        json={
            "sequences": ["pre-infusion", "post-infusion"],
            "appointments": [{"starts_at": at} for at in INFUSIONS],
        }
        | body,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def timeline(api: Api, patient_id: int) -> dict[str, Any]:
    answer = api.get(f"/patients/{patient_id}/timeline")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_course_books_three_appointments_in_local_time_for_both_sequences(api: Api) -> None:
    patient = api.patient()
    created = course(api, patient["id"])
    assert [e["sequence"] for e in created["enrollments"]] == ["pre-infusion", "post-infusion"]
    assert [a["starts_at"] for a in created["appointments"]] == [
        "2027-03-20T17:00:00Z",
        "2027-03-27T17:00:00Z",
        "2027-04-03T17:00:00Z",
    ]
    listed = api.get(f"/patients/{patient['id']}/appointments").json()
    assert len(listed) == 3
    steps = sorted(m["step"] for m in timeline(api, patient["id"])["messages"])
    assert steps.count("first-3d") == 1 and steps.count("later-3d") == 2
    assert steps.count("discharge") == 3


def test_enrolling_pre_then_post_with_the_same_infusions_books_three(api: Api) -> None:
    patient = api.patient()
    for sequence in ("pre-infusion", "post-infusion"):
        answer = api.post(
            f"/patients/{patient['id']}/enrollments",
            json={
                "sequence": sequence,
                "events": [{"name": "infusion.start", "at": at} for at in INFUSIONS],
            },
        )
        assert answer.status_code == 201, answer.text
    assert len(api.get(f"/patients/{patient['id']}/appointments").json()) == 3


def test_two_appointments_at_the_same_minute_are_409_naming_the_first(api: Api) -> None:
    patient = api.patient()
    first = api.post(f"/patients/{patient['id']}/appointments", json={"starts_at": INFUSIONS[0]})
    assert first.status_code == 201, first.text
    again = api.post(f"/patients/{patient['id']}/appointments", json={"starts_at": INFUSIONS[0]})
    assert again.status_code == 409
    assert (
        f"overlaps appointment {first.json()['id']} (2027-03-20 10:00-10:45 PDT)"
        in (again.json()["detail"])
    )


def test_a_skipped_or_repeated_local_time_is_422_naming_the_rule(api: Api) -> None:
    patient = api.patient()
    path = f"/patients/{patient['id']}/appointments"
    skipped = api.post(path, json={"starts_at": "2027-03-14T02:30"})
    assert skipped.status_code == 422
    problem = skipped.json()["detail"][0]
    assert problem["loc"] == ["body", "starts_at"]
    assert "does not exist in America/Los_Angeles" in problem["msg"]
    assert "first minute after the jump (03:00)" in problem["msg"]
    repeated = api.post(path, json={"starts_at": "2027-11-07T01:30"})
    assert repeated.status_code == 422
    assert "happens twice" in repeated.json()["detail"][0]["msg"]
    assert "-07:00 or -08:00" in repeated.json()["detail"][0]["msg"]
    with_offset = api.post(path, json={"starts_at": "2027-11-07T01:30:00-08:00"})
    assert with_offset.status_code == 201
    assert with_offset.json()["starts_at"] == "2027-11-07T09:30:00Z"


def test_a_course_preview_shows_the_whole_timeline_and_stores_nothing(api: Api) -> None:
    patient = api.patient()
    answer = api.post(
        f"/patients/{patient['id']}/course/preview",
        json={"sequences": ["pre-infusion"], "appointments": [{"starts_at": INFUSIONS[0]}]},
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["timezone"] == "America/Los_Angeles"
    assert [m["step"] for m in shown["messages"]] == ["first-3d", "first-1d"]
    assert shown["messages"][0]["due_local"] == "2027-03-17T10:00:00-07:00"
    assert shown["messages"][0]["text"]["body"]
    assert timeline(api, patient["id"])["messages"] == []
    assert api.get(f"/patients/{patient['id']}/appointments").json() == []


def test_a_move_preview_says_which_message_moves_from_when_to_when(api: Api) -> None:
    patient = api.patient()
    created = course(api, patient["id"], sequences=["pre-infusion"])
    first = created["appointments"][0]["id"]
    answer = api.post(f"/appointments/{first}/move/preview", json={"starts_at": "2027-03-22T10:00"})
    assert answer.status_code == 200, answer.text
    assert [
        (c["kind"], c["step"], c["due_before_local"], c["due_after_local"]) for c in answer.json()
    ] == [
        ("new", "moved", None, "2027-03-10T08:00:00-08:00"),  # the patient is told, now
        ("moved", "first-3d", "2027-03-17T10:00:00-07:00", "2027-03-19T10:00:00-07:00"),
        ("moved", "first-1d", "2027-03-19T17:00:00-07:00", "2027-03-21T17:00:00-07:00"),
    ]
    cancel = api.post(f"/appointments/{first}/cancel/preview", json={})
    assert {c["kind"] for c in cancel.json()} >= {"cancelled"}
    assert api.get(f"/appointments/{first}").json()["starts_at"] == "2027-03-20T17:00:00Z"


def test_the_timeline_shows_local_times_effective_channels_pauses_moves_and_text(
    api: Api,
) -> None:
    patient = api.patient()
    created = course(api, patient["id"], sequences=["pre-infusion"])
    first = created["appointments"][0]["id"]
    moved = api.post(f"/appointments/{first}/move", json={"starts_at": "2027-03-22T10:00"})
    assert moved.status_code == 200, moved.text
    assert api.sms_in(patient["phone"], "STOP").status_code == 200
    found = timeline(api, patient["id"])
    by_step = {m["step"]: m for m in found["messages"] if m["appointment_id"] == first}
    evening = by_step["first-1d"]  # an SMS step that may fall back to email
    assert evening["planned_channel"] == "sms" and evening["channel"] == "email"
    assert evening["outlook"].startswith("goes by email: SMS closed by STOP on ")
    assert evening["due_local"] == "2027-03-21T17:00:00-07:00"
    assert [(m["before"], m["after"]) for m in evening["moves"]] == [
        ("2027-03-20T00:00:00Z", "2027-03-22T00:00:00Z")
    ]
    assert evening["text"]["subject"] and "Ana" in evening["text"]["body"]
    appointment = next(a for a in found["appointments"] if a["id"] == first)
    assert [(m["before"], m["after"]) for m in appointment["moves"]] == [
        ("2027-03-20T17:00:00Z", "2027-03-22T17:00:00Z")
    ]
    enrollment = created["enrollments"][0]["id"]
    paused = api.post(f"/enrollments/{enrollment}/pause", json={"reason": "travelling"})
    assert paused.status_code == 200, paused.text
    after = timeline(api, patient["id"])["messages"]
    assert {m["shown_state"] for m in after if m["state"] == "scheduled"} == {"paused"}


def test_the_patient_is_told_once_of_a_move_with_the_new_time_and_asked_to_confirm(
    api: Api,
) -> None:
    patient = api.patient()
    created = course(api, patient["id"])  # pre- and post-infusion both have the notice step
    first = created["appointments"][0]["id"]
    api.post(f"/appointments/{first}/move", json={"starts_at": "2027-03-22T10:00"})
    api.post(f"/appointments/{first}/move", json={"starts_at": "2027-03-23T10:00"})
    notices = [m for m in timeline(api, patient["id"])["messages"] if m["step"] == "moved"]
    assert [(n["state"], n["reason"]) for n in notices] == [
        ("cancelled", "superseded: the appointment changed again"),
        ("scheduled", "appointment moved"),
    ]
    text = notices[1]["text"]["body"]
    assert "moved to Tuesday, March 23, 2027 at 10:00 AM" in text and "Reply C" in text


def test_the_patient_is_told_of_a_cancellation_in_their_language(api: Api) -> None:
    patient = api.patient(locale="es")
    created = course(api, patient["id"], sequences=["pre-infusion"])
    first = created["appointments"][0]["id"]
    api.post(f"/appointments/{first}/cancel", json={"reason": "clinic closed"})
    [notice] = [m for m in timeline(api, patient["id"])["messages"] if m["step"] == "cancelled"]
    assert notice["state"] == "scheduled"
    assert "está cancelada" in notice["text"]["body"]
