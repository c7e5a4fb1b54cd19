"""No NUL and no lone surrogate reaches storage: a 422 naming the field (issue 14 item 5)."""

from __future__ import annotations

from engage.store.patients import Patient
from tests.api_kit import Api

PATIENT = {
    "first_name": "Ana",
    "last_name": "Diaz",
    "phone": "+14155550100",
    "email": "ana@example.org",
    "timezone": "America/Los_Angeles",
}


def loc_of(answer) -> list:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    return answer.json()["detail"][0]["loc"]


def test_a_nul_in_a_patient_field_is_422_naming_it(api: Api) -> None:
    answer = api.post("/patients", json=PATIENT | {"last_name": "Di\x00az"})
    assert loc_of(answer) == ["body", "last_name"]
    assert "NUL" in answer.json()["detail"][0]["msg"]


def test_a_lone_surrogate_in_json_is_an_encodable_422(api: Api) -> None:
    body = '{"first_name": "\\ud800", "last_name": "x", "phone": "bad", "email": "bad",'
    body += ' "timezone": "UTC"}'
    headers = api.headers() | {"Content-Type": "application/json"}
    answer = api.client.post("/patients", content=body, headers=headers)
    assert loc_of(answer) == ["body", "first_name"]
    assert "surrogate" in answer.json()["detail"][0]["msg"]


def test_a_nul_in_a_search_query_is_422(api: Api) -> None:
    assert loc_of(api.get("/patients?q=an%00a")) == ["query", "q"]


def test_a_nul_in_a_consent_source_is_422(api: Api) -> None:
    patient = api.patient()
    answer = api.put(
        f"/patients/{patient['id']}/consents/sms",
        json={"granted": True, "source": "desk\x00", "notice": "n"},
    )
    assert loc_of(answer) == ["body", "source"]


def test_a_nul_deep_in_a_list_names_its_index(api: Api) -> None:
    answer = api.post("/patients", json=PATIENT | {"tags": ["ok", "b\x00d"]})
    assert loc_of(answer) == ["body", "tags", 1]


def test_a_nul_in_a_signed_twilio_form_is_422_not_a_500(api: Api) -> None:
    answer = api.sms_in("+14155550100", "STOP\x00")
    assert loc_of(answer) == ["body", "Body"]


def test_nothing_is_stored_by_a_refused_request(api: Api) -> None:
    assert api.post("/patients", json=PATIENT | {"first_name": "\x00"}).status_code == 422
    with api.sessions() as session:
        assert session.query(Patient).count() == 0
