"""Staff drive enrollments, appointments, timelines, previews and imports over HTTP; each call
is one transaction of the enrollment service, and the outbox follows it exactly."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from engage.cli.main import app as cli
from engage.store import AuditLog, Message, MessageState
from engage.store.message_states import transition
from tests.api_kit import ROOT, Api, build_api

S = MessageState
FIRST = "2027-03-20T10:00:00-07:00"
SECOND = "2027-04-03T10:00:00-07:00"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Api:
    """For what touches no table but the tokens (previews): one database is enough."""
    return build_api(f"sqlite:///{tmp_path / 'engage.db'}", tmp_path)


def enroll(api: Api, patient_id: int, sequence: str, *events: tuple[str, str]) -> dict[str, Any]:
    answer = api.post(
        f"/patients/{patient_id}/enrollments",
        json={"sequence": sequence, "events": [{"name": n, "at": at} for n, at in events]},
    )
    assert answer.status_code == 201, answer.text
    enrolled: dict[str, Any] = answer.json()
    return enrolled


def by_id(api: Api, patient_id: int) -> dict[int, dict[str, Any]]:
    return {m["id"]: m for m in api.timeline(patient_id)}


def mark_sent(api: Api, message_id: int) -> None:
    with api.sessions.begin() as s:
        message = s.get_one(Message, message_id)
        for state in (S.QUEUED, S.SENDING, S.SENT):
            transition(s, message, state, "test", "worker")


def test_enrolling_plans_the_sequence_and_is_audited(api: Api) -> None:
    patient = api.patient()
    enrolled = enroll(api, patient["id"], "education")
    assert enrolled["state"] == "active" and enrolled["messages"] == {"scheduled": 6}
    with api.sessions() as s:
        actors = s.scalars(
            select(AuditLog.actor).where(AuditLog.action == "enrollment.create")
        ).all()
    assert actors == ["api:test-staff"]


def test_enrolling_twice_in_one_sequence_is_409(api: Api) -> None:
    patient = api.patient()
    enroll(api, patient["id"], "education")
    again = api.post(f"/patients/{patient['id']}/enrollments", json={"sequence": "education"})
    assert again.status_code == 409 and "already enrolled" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"sequence": "nope"}, ["body"], "unknown sequence"),
        (
            # A local time Los Angeles skips: refused with the rule, not guessed.
            {"sequence": "education", "events": [{"name": "enrolled", "at": "2027-03-14T02:30"}]},
            ["body", "events", 0, "at"],
            "does not exist in America/Los_Angeles",
        ),
        (
            {"sequence": "education", "events": [{"name": "birthday", "at": FIRST}]},
            ["body"],
            "unknown event",
        ),
    ],
)
def test_bad_enrollments_are_422_saying_what(
    api: Api, body: dict[str, Any], loc: list[Any], words: str
) -> None:
    answer = api.post(f"/patients/{api.patient()['id']}/enrollments", json=body)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == loc and words in problem["msg"]


def test_enrolling_an_unknown_patient_is_404(api: Api) -> None:
    answer = api.post("/patients/4242/enrollments", json={"sequence": "education"})
    assert answer.status_code == 404


def test_unenroll_cancels_pending_messages_with_the_reason(api: Api) -> None:
    patient = api.patient()
    enrolled = enroll(api, patient["id"], "education")
    first = min(by_id(api, patient["id"]))
    mark_sent(api, first)
    answer = api.post(f"/enrollments/{enrolled['id']}/unenroll", json={"reason": "moved away"})
    assert answer.status_code == 200
    assert answer.json()["state"] == "cancelled"
    assert answer.json()["messages"] == {"sent": 1, "cancelled": 5}
    timeline = by_id(api, patient["id"])
    assert timeline[first]["state"] == "sent"
    assert {m["reason"] for i, m in timeline.items() if i != first} == {"unenrolled: moved away"}


def test_pause_then_resume_and_state_rules(api: Api) -> None:
    enrolled = enroll(api, api.patient()["id"], "education")
    url = f"/enrollments/{enrolled['id']}"
    assert api.post(url + "/resume").status_code == 409
    paused = api.post(url + "/pause", json={"reason": "in hospital"})
    assert paused.json()["state"] == "paused" and paused.json()["reason"] == "in hospital"
    assert api.post(url + "/resume").json()["state"] == "active"
    assert api.post(url + "/pause", json={"reason": ""}).status_code == 422


def test_moving_an_appointment_moves_exactly_its_pending_messages(api: Api) -> None:
    patient = api.patient()
    enroll(
        api,
        patient["id"],
        "pre-infusion",
        ("infusion.start", FIRST),
        ("infusion.start", SECOND),
    )
    first, second = api.get(f"/patients/{patient['id']}/appointments").json()
    ids = [m["id"] for m in first["messages"]]
    sent = ids[0]
    mark_sent(api, sent)
    before = by_id(api, patient["id"])
    moved = api.post(
        f"/appointments/{first['id']}/move", json={"starts_at": "2027-03-22T10:00:00-07:00"}
    )
    assert moved.status_code == 200
    after = by_id(api, patient["id"])
    changed = {i for i in before if after[i] != before[i]}
    assert changed == set(ids) - {sent}
    [notice] = [m for i, m in after.items() if i not in before]
    assert (notice["step"], notice["state"]) == ("moved", "scheduled")
    for i in changed:
        shift = datetime.fromisoformat(after[i]["due_at"]) - datetime.fromisoformat(
            before[i]["due_at"]
        )
        assert shift.days == 2 and after[i]["reason"] == "appointment moved"
        assert after[i]["history"][-1]["reason"] == "appointment moved"
    assert after[sent] == before[sent]
    assert {m["id"] for m in second["messages"]}.isdisjoint(changed)


def test_cancelling_an_appointment_cancels_its_unsent_messages_only(api: Api) -> None:
    patient = api.patient()
    enroll(
        api, patient["id"], "pre-infusion", ("infusion.start", FIRST), ("infusion.start", SECOND)
    )
    first, second = api.get(f"/patients/{patient['id']}/appointments").json()
    cancelled = api.post(f"/appointments/{second['id']}/cancel", json={"reason": "patient sick"})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    reminders = [m for m in cancelled.json()["messages"] if m["step"] != "cancelled"]
    assert {m["state"] for m in reminders} == {"cancelled"}
    assert {m["reason"] for m in reminders} == {"patient sick"}
    [notice] = [m for m in cancelled.json()["messages"] if m["step"] == "cancelled"]
    assert notice["state"] == "scheduled"  # the patient is told
    untouched = api.get(f"/appointments/{first['id']}").json()
    assert {m["state"] for m in untouched["messages"]} == {"scheduled"}
    assert (
        api.post(f"/appointments/{second['id']}/move", json={"starts_at": SECOND}).status_code
        == 409
    )


def test_an_appointment_added_later_is_planned_in_open_enrollments(api: Api) -> None:
    patient = api.patient()
    enroll(api, patient["id"], "post-infusion")
    added = api.post(
        f"/patients/{patient['id']}/appointments",
        json={"starts_at": FIRST, "location": "Room 2"},
    )
    assert added.status_code == 201
    assert added.json()["ends_at"] == "2027-03-20T17:45:00Z"
    assert [m["step"] for m in added.json()["messages"]] == ["discharge", "next-day"]


def test_completing_the_course_starts_the_booster_sequence(api: Api) -> None:
    patient = api.patient()
    answer = api.post(
        f"/patients/{patient['id']}/course-completed",
        json={"completed_at": "2027-05-01T12:00:00-07:00"},
    )
    assert answer.status_code == 200
    booster = answer.json()
    assert booster["sequence"] == "booster" and booster["messages"] == {"scheduled": 3}
    assert (
        api.get(f"/patients/{patient['id']}").json()["course_completed_at"].startswith("2027-05-01")
    )


def test_timeline_lists_every_message_in_due_order_with_its_history(api: Api) -> None:
    patient = api.patient()
    enroll(api, patient["id"], "education")
    timeline = api.timeline(patient["id"])
    assert [m["due_at"] for m in timeline] == sorted(m["due_at"] for m in timeline)
    first = timeline[0]
    assert first["step"] == "welcome" and first["state"] == "scheduled"
    assert (
        first["history"][0]["from_state"] is None and first["history"][0]["to_state"] == "scheduled"
    )
    assert {"channel", "due_at", "sent_at", "provider_status", "reason"} <= set(first)


# -- preview -------------------------------------------------------------------------------


def simulate_json(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["simulate", "--json", "--schedule", str(ROOT / "schedules.yaml"), *args]
    )
    assert result.exit_code == 0, result.output
    parsed: list[dict[str, Any]] = json.loads(result.stdout)
    return parsed


END = "2027-03-20T10:45:00-07:00"


@pytest.mark.parametrize(
    ("sequence", "events", "simulate_events", "locale"),
    [
        ("pre-infusion", [("infusion.start", FIRST)], ["--anchor", FIRST], "en"),
        (
            "post-infusion",
            [("infusion.start", FIRST), ("infusion.end", END)],
            ["--anchor", END, "--event", f"infusion.start={FIRST}"],
            "es",
        ),
        ("education", [("enrolled", FIRST)], ["--anchor", FIRST], "en"),
    ],
)
def test_preview_answers_what_engage_simulate_answers(
    sqlite_api: Api,
    sequence: str,
    events: list[tuple[str, str]],
    simulate_events: list[str],
    locale: str,
) -> None:
    now = "2027-03-01T09:00:00-08:00"
    expected = simulate_json(
        "--sequence", sequence, *simulate_events, "--tz", "America/Los_Angeles",
        "--locale", locale, "--now", now, "--channels", "sms,email",
    )  # fmt: skip
    answer = sqlite_api.post(
        "/preview",
        json={
            "sequence": sequence,
            "timezone": "America/Los_Angeles",
            "locale": locale,
            "channels": ["sms", "email"],
            "events": [{"name": name, "at": at} for name, at in events],
            "now": now,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected and expected


def test_preview_for_a_stored_patient_uses_their_consented_channels(api: Api) -> None:
    patient = api.patient(sms=False)
    answer = api.post(
        f"/patients/{patient['id']}/preview",
        json={"sequence": "post-infusion", "events": [{"name": "infusion.start", "at": FIRST}]},
    )
    assert answer.status_code == 200
    assert {item["channel"] for item in answer.json()} == {"email"}
    assert all("Ana" in item["body"] for item in answer.json())


# -- import --------------------------------------------------------------------------------

CSV = (
    "external_ref,first_name,last_name,phone,email,timezone,locale,sms_consent,email_consent\n"
    "P-1,Ana,García,(415) 555-2671,ana@example.org,America/Los_Angeles,es,yes,yes\n"
    "P-2,Ben,Okafor,not-a-phone,ben@example.org,America/New_York,en,no,yes\n"
)


def upload(api: Api, content: bytes, name: str = "patients.csv") -> Any:
    return api.post("/imports/patients", files={"file": (name, content, "text/csv")})


def test_csv_import_reports_rows_like_the_cli_and_is_idempotent(api: Api) -> None:
    first = upload(api, CSV.encode())
    assert first.status_code == 200
    assert first.json() | {"problems": []} == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "conflicts": 0,
        "kept_opted_out": 0,
        "dry_run": False,
        "problems": [],
        "summary": "2 rows: 1 created, 0 updated, 0 unchanged, 1 rejected",
        "rows": [],
    }
    assert first.json()["problems"] == ["patients.csv:3: phone: not a phone number"]
    again = upload(api, CSV.encode())
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 1)


def test_csv_import_dry_run_shows_each_rows_changes_and_writes_nothing(api: Api) -> None:
    upload(api, CSV.encode())
    moved = CSV.replace("America/Los_Angeles", "America/Denver").encode()
    answer = api.post(
        "/imports/patients?dry_run=true", files={"file": ("patients.csv", moved, "text/csv")}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is True and body["updated"] == 1
    assert body["rows"][0] == {
        "line": 2,
        "outcome": "update",
        "patient_id": 1,
        "changes": [{"field": "timezone", "old": "America/Los_Angeles", "new": "America/Denver"}],
        "problems": [],
    }
    assert body["rows"][1]["outcome"] == "reject"
    assert api.get("/patients/1").json()["timezone"] == "America/Los_Angeles"


def test_csv_with_a_bad_header_is_422_naming_the_file_and_line(api: Api) -> None:
    answer = upload(api, b"first_name,surname\nAna,Garcia\n", name="../../etc/x.csv")
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "file"] and problem["msg"].startswith(
        "x.csv:1: unknown column"
    )


def test_csv_enrollment_plans_good_rows_and_names_bad_ones_like_the_cli(api: Api) -> None:
    upload(api, CSV.encode())
    rows = b"external_ref,infusion.start\nP-1,2031-03-10T09:00-08:00\nP-9,2031-03-10T09:00\n"
    answer = api.post(
        "/imports/enrollments?sequence=pre-infusion",
        files={"file": ("due.csv", rows, "text/csv")},
    )
    assert answer.status_code == 200
    assert answer.json()["summary"] == "1 enrolled, 1 rejected"
    assert answer.json()["problems"][0].startswith("due.csv:3: external_ref:")
