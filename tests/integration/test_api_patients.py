"""Staff manage patients over HTTP: validation names the field, duplicates name the patient,
consent changes only through its own call, and every write is in the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engage.store import AuditLog
from tests.api_kit import Api, build_api


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


NEW = {
    "first_name": "Rosa",
    "last_name": "Díaz",
    "phone": "(415) 555-0142",
    "email": "Rosa.Diaz@Example.org",
    "timezone": "America/Los_Angeles",
    "locale": "es",
}


def audit_actions(api: Api) -> list[tuple[str, str]]:
    with api.sessions() as s:
        return [(a.actor, a.action) for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_created_patient_is_normalised_and_audited(api: Api) -> None:
    answer = api.post("/patients", json=NEW)
    assert answer.status_code == 201
    patient = answer.json()
    assert patient["phone"] == "+14155550142" and patient["email"] == "rosa.diaz@example.org"
    assert patient["preferred_channel"] == "sms" and patient["consents"] == []
    assert ("api:test-staff", "patient.create") in audit_actions(api)
    with api.sessions() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "patient.create")).one()
    assert row.after is not None and "+14155550142" not in str(row.after)
    assert row.after["phone"].startswith("sha256:")


def test_a_zone_given_as_its_city_is_stored_as_its_iana_name(api: Api) -> None:
    answer = api.post("/patients", json=NEW | {"timezone": "los angeles"})
    assert answer.status_code == 201 and answer.json()["timezone"] == "America/Los_Angeles"


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"phone": "555"}, ["body", "phone"], "phone number"),
        ({"email": "not-an-email"}, ["body", "email"], "email"),
        ({"timezone": "Mars/Base"}, ["body", "timezone"], "unknown time zone"),
        ({"first_name": ""}, ["body", "first_name"], "at least 1"),
        ({"locale": "fr"}, ["body", "locale"], "'en' or 'es'"),
        ({"phone": None, "email": None}, ["body", "phone"], "needs a phone or an email"),
        ({"phone": None, "preferred_channel": "sms"}, ["body", "preferred_channel"], "no phone"),
    ],
)
def test_invalid_patient_is_422_naming_the_field(
    api: Api, change: dict[str, object], loc: list[str], words: str
) -> None:
    answer = api.post("/patients", json=NEW | change)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == loc and words in problem["msg"]


@pytest.mark.parametrize("field", ["phone", "email"])
def test_duplicate_phone_or_email_is_409_naming_the_existing_patient(api: Api, field: str) -> None:
    first = api.post("/patients", json=NEW).json()
    other = {"phone": "+14155550199", "email": "other@example.org"}
    other[field] = NEW[field]  # the same number / address, typed differently
    answer = api.post("/patients", json=NEW | other)
    assert answer.status_code == 409
    assert answer.json()["existing_patient_id"] == first["id"]
    assert answer.json()["field"] == field


def test_update_changes_only_the_given_fields_and_audits_before_and_after(api: Api) -> None:
    patient = api.post("/patients", json=NEW).json()
    answer = api.patch(f"/patients/{patient['id']}", json={"timezone": "America/New_York"})
    assert answer.status_code == 200
    assert answer.json()["timezone"] == "America/New_York"
    assert answer.json()["phone"] == patient["phone"]
    with api.sessions() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "patient.update")).one()
    assert row.before == {"timezone": "America/Los_Angeles"}
    assert row.after == {"timezone": "America/New_York"}


def test_update_to_another_patients_phone_is_409(api: Api) -> None:
    first = api.post("/patients", json=NEW).json()
    second = api.post(
        "/patients", json=NEW | {"phone": "+14155550150", "email": "b@example.org"}
    ).json()
    answer = api.patch(f"/patients/{second['id']}", json={"phone": NEW["phone"]})
    assert answer.status_code == 409 and answer.json()["existing_patient_id"] == first["id"]


def test_unknown_patient_is_404(api: Api) -> None:
    assert api.get("/patients/999").status_code == 404
    assert api.patch("/patients/999", json={"first_name": "X"}).status_code == 404


def test_search_by_name_phone_and_email(api: Api) -> None:
    rosa = api.post("/patients", json=NEW).json()
    api.post(
        "/patients",
        json=NEW | {"first_name": "Ana", "phone": "+14155550177", "email": "ana@example.org"},
    )
    ids = lambda **q: [p["id"] for p in api.get("/patients", params=q).json()]  # noqa: E731
    assert ids(name="rosa d") == [rosa["id"]]
    assert ids(phone="555-0142") == [rosa["id"]]
    assert ids(email="ROSA.diaz") == [rosa["id"]]
    assert len(ids()) == 2


def test_consent_is_granted_with_source_and_notice_and_withdrawn_explicitly(api: Api) -> None:
    patient = api.post("/patients", json=NEW).json()
    url = f"/patients/{patient['id']}/consents/sms"
    refused = api.put(url, json={"granted": True, "source": "intake-form"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "notice"]
    granted = api.put(url, json={"granted": True, "source": "intake-form", "notice": "v1"})
    assert granted.status_code == 200
    assert granted.json() | {"changed_at": None} == {
        "channel": "sms",
        "granted": True,
        "changed_at": None,
        "source": "intake-form",
        "notice": "v1",
    }
    closed = api.put(url, json={"granted": False, "source": "phone-call"})
    assert closed.json()["granted"] is False and closed.json()["notice"] == "v1"
    assert [a for _, a in audit_actions(api) if a.startswith("consent")] == [
        "consent.granted",
        "consent.closed",
    ]


def test_patient_update_cannot_touch_consent(api: Api) -> None:
    patient = api.post("/patients", json=NEW).json()
    answer = api.patch(f"/patients/{patient['id']}", json={"consents": []})
    assert answer.status_code == 422


def test_granting_email_without_an_email_address_is_422(api: Api) -> None:
    patient = api.post("/patients", json=NEW | {"email": None}).json()
    answer = api.put(
        f"/patients/{patient['id']}/consents/email",
        json={"granted": True, "source": "intake-form", "notice": "v1"},
    )
    assert answer.status_code == 422 and "no email" in answer.json()["detail"][0]["msg"]


def test_a_family_member_may_share_a_phone_and_email_with_another_name(api: Api) -> None:
    first = api.post("/patients", json=NEW).json()
    answer = api.post("/patients", json=NEW | {"first_name": "Luis"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["phone"] == first["phone"] and answer.json()["email"] == first["email"]
    found = api.get("/patients", params={"phone": NEW["phone"]})
    assert [p["id"] for p in found.json()] == [first["id"], answer.json()["id"]]
