"""Pages as the front desk and operators use them, through the TestClient."""

from __future__ import annotations

from tests.console_kit import Console


def _new_patient(console: Console, **fields: str):
    values = {
        "first_name": "Ana",
        "last_name": "García",
        "phone": "(415) 555-0123",
        "email": "ana@example.org",
        "timezone": "America/Los_Angeles",
        "locale": "es",
        "preferred_channel": "",
        "external_ref": "MRN-1001",
    } | fields
    return console.post("/console/patients/new", values)


def test_today_shows_the_clinic_day_with_its_zone(staff: Console) -> None:
    page = staff.client.get("/console/")
    assert page.status_code == 200
    assert "Patients to call" in page.text and "Today's appointments" in page.text
    assert "(America/" in page.text  # the clinic's zone is named


def test_creating_a_patient_stores_it_and_audits_the_user(staff: Console) -> None:
    answer = _new_patient(staff)
    assert answer.status_code == 303
    page = staff.client.get(answer.headers["location"])
    assert "Ana" in page.text
    audit = _admin(staff).client.get("/console/audit?action=patient.create").text
    assert "console:staff" in audit


def test_a_bad_phone_is_shown_at_its_field_and_nothing_is_stored(staff: Console) -> None:
    answer = _new_patient(staff, phone="12", timezone="Mars/Olympus")
    assert answer.status_code == 422
    assert 'id="e-phone"' in answer.text and 'id="e-timezone"' in answer.text
    assert 'value="Ana"' in answer.text  # what was typed is kept
    assert "No patient matches" in staff.client.get("/console/patients?q=Ana").text


def test_a_duplicate_phone_names_the_other_patient(staff: Console) -> None:
    _new_patient(staff)
    answer = _new_patient(staff, first_name="Luis", email="luis@example.org", external_ref="")
    assert answer.status_code == 422
    assert "already belongs to patient 1" in answer.text and "/console/patients/1" in answer.text


def test_patients_are_found_by_name_phone_email_and_chart_number(staff: Console) -> None:
    _new_patient(staff)
    for q in ("gar", "ana garc", "+14155550123", "415 555 0123", "ANA@example.org", "MRN-1001"):
        page = staff.client.get("/console/patients", params={"q": q}).text
        assert "García, Ana" in page, q


def test_operations_is_for_ops_and_shows_status(console: Console) -> None:
    console.sign_in("ops")
    page = console.client.get("/console/operations")
    assert page.status_code == 200
    assert (
        "Backlog" in page.text
        and "Dead letters" in page.text
        and 'hx-trigger="every 10s"' in page.text
    )
    assert console.client.get("/console/audit").status_code == 403


def _admin(console: Console) -> Console:
    console.client.cookies.clear()
    console.sign_in("admin")
    return console


def test_an_unknown_patient_is_a_page_that_says_what_to_do(staff: Console) -> None:
    page = staff.client.get("/console/patients/999")
    assert page.status_code == 404
    assert "patient 999 does not exist" in page.text and "Go to Today" in page.text
    assert staff.client.get("/patients/999").headers["content-type"] == "application/json"


def test_an_unknown_console_address_is_a_page(staff: Console) -> None:
    page = staff.client.get("/console/nowhere")
    assert page.status_code == 404 and "use the menu" in page.text
