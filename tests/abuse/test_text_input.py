"""No NUL and no lone surrogate reaches storage: a 422 naming the field (issue 14 item 5)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engage.store.patients import Patient
from tests.api_kit import Api, build_api

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


@pytest.mark.postgres
def test_an_84_character_upload_name_imports_on_postgresql(
    postgres_server_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Before: the rows were committed, then the audit row (entity_id is 64 characters) was a 500.
    url = sa.make_url(postgres_server_url)
    own = url.set(database=f"{url.database}_abuse")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{own.database}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{own.database}"'))
    api = build_api(own.render_as_string(hide_password=False), tmp_path)
    csv = "first_name,last_name,phone,email,timezone\nAna,Diaz,+14155550100,ana@example.org,UTC\n"
    try:
        answer = api.post("/imports/patients", files={"file": ("a" * 84 + ".csv", csv, "text/csv")})
        assert answer.status_code == 200, answer.text
        assert answer.json()["created"] == 1
    finally:
        api.app.state.runtime.engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{own.database}"'))
        admin.dispose()
