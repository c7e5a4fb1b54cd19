"""A patient's own opt-out stands: only the patient, or new express consent from staff, reverses it.

Before the consent service, re-importing the intake CSV after a STOP re-opened SMS (`2 updated`)
and a plain staff PUT did too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engage.patients.importer import import_csv
from engage.store import AuditLog, Consent, Patient
from engage.store.patients import ConsentEvent
from tests.api_kit import Api, build_api

HEADER = "first_name,last_name,phone,email,timezone,sms_consent,email_consent\n"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


def sms(api: Api, patient_id: int) -> Consent:
    with api.sessions() as s:
        return s.scalars(
            select(Consent).where(Consent.patient_id == patient_id, Consent.channel == "sms")
        ).one()


def csv_of(tmp_path: Path, patients: list[dict[str, Any]]) -> Path:
    rows = "".join(
        f"{p['first_name']},{p['last_name']},{p['phone']},{p['email']},{p['timezone']},yes,yes\n"
        for p in patients
    )
    path = tmp_path / "intake.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_reimporting_after_stop_keeps_sms_closed_and_says_so(api: Api, tmp_path: Path) -> None:
    patients = [api.patient(), api.patient()]
    for patient in patients:
        api.sms_in(patient["phone"], "STOP")
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    report = import_csv(api.sessions, csv_of(tmp_path, patients), now=now)
    assert report.updated == 0 and report.unchanged == 2 and report.kept_opted_out == 2
    assert report.summary.endswith("2 kept opted out")
    assert all("sms_consent: kept opted out: patient texted STOP on " in p for p in report.problems)
    assert [p.split(":")[1] for p in report.problems] == ["2", "3"]  # one per row, by line
    for patient in patients:
        assert sms(api, patient["id"]).granted is False
        assert sms(api, patient["id"]).source == "sms-stop"


def test_an_import_still_records_a_patients_first_consent(api: Api, tmp_path: Path) -> None:
    patient = api.patient(sms=False)
    report = import_csv(api.sessions, csv_of(tmp_path, [patient]))
    assert (report.updated, report.kept_opted_out) == (1, 0)
    assert sms(api, patient["id"]).granted is True


def test_staff_without_express_consent_cannot_reopen_a_stop(api: Api) -> None:
    patient = api.patient()
    api.sms_in(patient["phone"], "STOP")
    url = f"/patients/{patient['id']}/consents/sms"
    plain = {"granted": True, "source": "front-desk", "notice": "notice-v2"}
    refused = api.put(url, json=plain)
    assert refused.status_code == 409, refused.text
    assert "kept opted out: patient texted STOP on" in refused.text
    assert sms(api, patient["id"]).granted is False


def test_staff_recording_express_consent_reopens_it_audited(api: Api) -> None:
    patient = api.patient()
    api.sms_in(patient["phone"], "STOP")
    url = f"/patients/{patient['id']}/consents/sms"
    body = {
        "granted": True,
        "source": "front-desk",
        "notice": "notice-v2",
        "reason": "patient asked in person to get texts again",
    }
    answer = api.put(url, json=body)
    assert answer.status_code == 200, answer.text
    assert sms(api, patient["id"]).granted is True
    with api.sessions() as s:
        last = s.scalars(
            select(AuditLog)
            .where(AuditLog.action == "consent.granted")
            .order_by(AuditLog.id.desc())
        ).first()
    assert last is not None and last.actor == "api:test-staff"
    assert last.after is not None and last.after["reason"] == body["reason"]
    assert last.after["origin"] == "express"


def test_the_patients_start_reopens_their_own_stop(api: Api) -> None:
    patient = api.patient()
    api.sms_in(patient["phone"], "STOP")
    api.sms_in(patient["phone"], "START")
    assert sms(api, patient["id"]).granted is True


def test_a_staff_closed_channel_is_reopened_by_staff_without_ceremony(api: Api) -> None:
    patient = api.patient()
    url = f"/patients/{patient['id']}/consents/sms"
    assert api.put(url, json={"granted": False, "source": "phone-call"}).status_code == 200
    again = api.put(url, json={"granted": True, "source": "phone-call", "notice": "v2"})
    assert again.status_code == 200


def test_the_ledger_keeps_every_decision_append_only(api: Api, tmp_path: Path) -> None:
    patient = api.patient(email=False)
    api.sms_in(patient["phone"], "STOP")
    import_csv(api.sessions, csv_of(tmp_path, [patient]), actor="cli:test")
    api.sms_in(patient["phone"], "START")
    answer = api.get(f"/patients/{patient['id']}/consent-history")
    assert answer.status_code == 200, answer.text
    ledger = [(e["channel"], e["granted"], e["source"], e["origin"]) for e in answer.json()]
    assert [e for e in ledger if e[0] == "sms"] == [
        ("sms", True, "intake-form", "staff"),
        ("sms", False, "sms-stop", "patient"),  # the import's "yes" left no entry: refused
        ("sms", True, "sms-start", "patient"),
    ]
    # The row's email consent: no opt-out held it.
    assert [e for e in ledger if e[0] == "email"] == [("email", True, "csv-import", "import")]
    by_source = {e["source"]: e for e in answer.json()}
    assert by_source["intake-form"]["actor"] == "api:test-staff"
    assert by_source["intake-form"]["notice"] == "notice-v1"
    assert by_source["csv-import"]["actor"] == "cli:test"


def test_reimporting_the_same_file_after_stop_changes_nothing(api: Api, tmp_path: Path) -> None:
    """The headline bug: the intake file imported again after a STOP re-opened SMS (`2 updated`)."""
    path = tmp_path / "intake.csv"
    path.write_text(
        "external_ref,first_name,last_name,phone,email,timezone,sms_consent,email_consent\n"
        "MRN-1,Ana,Reyes,+14155550171,ana@example.org,America/Los_Angeles,yes,yes\n"
        "MRN-2,Luis,Reyes,+14155550172,luis@example.org,America/Los_Angeles,yes,yes\n",
        encoding="utf-8",
    )
    assert import_csv(api.sessions, path).created == 2
    for phone in ("+14155550171", "+14155550172"):
        assert api.sms_in(phone, "STOP").status_code == 200
    with api.sessions() as s:
        ids = list(s.scalars(select(Patient.id).order_by(Patient.id)))
        ledger = s.query(ConsentEvent).count()
    preview = import_csv(api.sessions, path, dry_run=True)
    report = import_csv(api.sessions, path)
    for seen in (preview, report):
        assert (seen.created, seen.updated, seen.unchanged, seen.kept_opted_out) == (0, 0, 2, 2)
        assert all(
            "sms_consent: kept opted out: patient texted STOP on" in p for p in seen.problems
        )
    assert [o.changes for o in preview.outcomes] == [(), ()]
    with api.sessions() as s:
        assert s.query(ConsentEvent).count() == ledger  # not one consent decision recorded
    assert [(sms(api, i).granted, sms(api, i).source) for i in ids] == [(False, "sms-stop")] * 2
