"""Pages as the front desk and operators use them, through the TestClient."""

from __future__ import annotations

import time

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


def test_the_same_name_on_a_stored_phone_names_the_other_patient(staff: Console) -> None:
    _new_patient(staff)
    answer = _new_patient(staff, email="ana2@example.org", external_ref="")
    assert answer.status_code == 422
    assert "already belongs to patient 1" in answer.text and "/console/patients/1" in answer.text


def test_a_family_member_may_share_the_phone(staff: Console) -> None:
    _new_patient(staff)
    answer = _new_patient(staff, first_name="Luis", email="luis@example.org", external_ref="")
    assert answer.status_code == 303


def test_patients_are_found_by_name_phone_email_and_chart_number(staff: Console) -> None:
    _new_patient(staff)
    for q in ("gar", "ana garc", "+14155550123", "415 555 0123", "ANA@example.org", "MRN-1001"):
        page = staff.client.get("/console/patients", params={"q": q}).text
        assert "García, Ana" in page, q


def test_phones_are_shown_as_staff_dial_them_and_found_as_shown(staff: Console) -> None:
    # Pages showed the stored "+14155550123"; the front desk reads and dials "(415) 555-0123".
    page = staff.client.get(_new_patient(staff).headers["location"]).text
    assert '<a href="tel:+14155550123">(415) 555-0123</a>' in page
    abroad = _new_patient(
        staff, first_name="Tom", phone="+44 20 7946 0958", email="t@example.org", external_ref=""
    )
    assert "+44 20 7946 0958" in staff.client.get(abroad.headers["location"]).text
    listed = staff.client.get("/console/patients", params={"q": "(415) 555-0123"}).text
    assert "García, Ana" in listed and "<td>(415) 555-0123</td>" in listed


def test_operations_is_for_ops_and_shows_status(console: Console) -> None:
    console.sign_in("ops")
    page = console.client.get("/console/operations")
    assert page.status_code == 200
    assert (
        "Backlog" in page.text
        and "Dead letters" in page.text
        and 'hx-trigger="every 10s"' in page.text
    )
    assert '"X-Engage-Poll": "1"' in page.text  # its refresh does not keep the session alive
    assert console.client.get("/console/audit").status_code == 403


def _admin(console: Console) -> Console:
    console.client.cookies.clear()
    console.sign_in("admin")
    return console


def test_an_unknown_patient_is_a_page_that_says_what_to_do(staff: Console) -> None:
    page = staff.client.get("/console/patients/999")
    assert page.status_code == 404
    assert "patient 999 not found" in page.text and "Go to Today" in page.text
    assert staff.client.get("/patients/999").headers["content-type"] == "application/json"


def test_an_unknown_console_address_is_a_page(staff: Console) -> None:
    page = staff.client.get("/console/nowhere")
    assert page.status_code == 404 and "use the menu" in page.text


def _job_page(console: Console, answer) -> str:
    """The import job's page once its step has finished (it runs in a background thread)."""
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    for _ in range(100):
        page = console.client.get(location).text
        if 'hx-trigger="every 1s"' not in page:
            return page
        time.sleep(0.1)
    raise AssertionError("the import job did not finish")


def test_import_checks_rows_at_their_line_then_imports_the_fixed_file(staff: Console) -> None:
    header = "first_name,last_name,phone,email,timezone,sms_consent\n"
    bad = (
        header
        + "Ana,Ruiz,4155550101,,America/Chicago,yes\nBo,Li,12,,America/Chicago,yes\nCy,Ng,,,Mars/Base,no\n"
    )
    upload = staff.post("/console/import", files={"file": ("clinic.csv", bad.encode(), "text/csv")})
    check = _job_page(staff, upload)
    assert "<td>3</td><td>phone: not a valid phone number for its country</td>" in check
    assert "Mars/Base" in check and "<dd><strong>1</strong></dd>" in check
    assert (
        "No patient matches" in staff.client.get("/console/patients?q=ruiz").text
    )  # nothing stored
    good = (
        header + "Ana,Ruiz,4155550101,,America/Chicago,yes\nBo,Li,4155550102,,America/Chicago,yes\n"
    )
    upload = staff.post(
        "/console/import", files={"file": ("clinic.csv", good.encode(), "text/csv")}
    )
    check = _job_page(staff, upload)
    assert "Every row is valid" in check
    confirm = check.split('<form method="post" action="')[1].split('"')[0]
    assert confirm.endswith("/confirm")
    done = _job_page(staff, staff.post(confirm))
    assert "2 created" in done and "imported by console:staff" in done
    assert "Ruiz, Ana" in staff.client.get("/console/patients?q=ruiz").text
    again = staff.post(confirm)
    assert again.status_code == 409 and "is done, not waiting to be confirmed" in again.text


def test_templates_show_segments_encoding_and_review_state(staff: Console) -> None:
    page = staff.client.get("/console/templates?sequence=pre-infusion")
    assert page.status_code == 200
    assert "GSM-7" in page.text or "UCS-2" in page.text
    assert "awaiting clinical review" in page.text or "approved by" in page.text
    assert "· es ·" in page.text  # every locale


def test_the_templates_page_names_the_sample_patient_it_renders_with(staff: Console) -> None:
    """The hint said "Alex" above texts that greet "Alexandrina"."""
    page = staff.client.get("/console/templates?sequence=education")
    hint = page.text.split("Rendered with sample data", 1)[1].split("</p>", 1)[0]
    assert "Alexandrina" in hint and "Hello Alexandrina" in page.text


def test_the_inbox_lists_replies_newest_first(staff: Console) -> None:
    page = staff.client.get("/console/inbox")
    assert page.status_code == 200 and "Nothing here." in page.text


def test_an_admin_creates_and_disables_a_user_from_the_console(console: Console) -> None:
    console.sign_in("admin")
    short = console.post(
        "/console/users", {"username": "lee", "role": "staff", "password": "short"}
    )
    assert short.status_code == 422 and 'id="e-password"' in short.text
    made = console.post(
        "/console/users", {"username": "lee", "role": "staff", "password": "long enough pass"}
    )
    assert made.status_code == 303
    assert console.post("/console/users/lee/disable").status_code == 303
    assert "disabled" in console.client.get("/console/users").text
    console.client.cookies.clear()
    assert console.sign_in("lee", "long enough pass").status_code == 401
    console.sign_in("staff")
    assert console.client.get("/console/users").status_code == 403


def test_a_name_is_found_as_the_lists_show_it_and_in_either_order(staff: Console) -> None:
    """The list shows "García, Ana"; typing that, or "garcía ana", found nobody."""
    _new_patient(staff)
    made = _new_patient(
        staff,
        first_name="Garcia",
        last_name="Anaya",
        phone="",
        email="g@example.org",
        external_ref="",
    )
    assert made.status_code == 303, made.text
    for typed, found, not_found in (
        ("García, Ana", "García, Ana", "Anaya, Garcia"),
        ("garcía ana", "García, Ana", None),
        ("ana garc", "García, Ana", None),
        ("gar, an", "García, Ana", "Anaya, Garcia"),
        ("ana", "García, Ana", None),
    ):
        page = staff.client.get("/console/patients", params={"q": typed}).text
        assert found in page, typed
        if not_found:
            assert not_found not in page, typed
    page = staff.client.get("/console/patients", params={"q": "anaya garcia"}).text
    assert "Anaya, Garcia" in page and "García, Ana" not in page


def test_a_percent_sign_in_the_search_box_is_not_a_wildcard(staff: Console) -> None:
    _new_patient(staff)
    assert "No patient matches" in staff.client.get("/console/patients", params={"q": "%"}).text
    assert "No patient matches" in staff.client.get("/console/patients", params={"q": "_na"}).text


def test_a_value_the_page_cannot_read_is_a_page_naming_the_field_not_json(staff: Console) -> None:
    """`/console/patients?page=abc` answered the API's raw JSON 422 inside the console."""
    page = staff.client.get("/console/patients", params={"page": "abc", "q": "Ana García"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "page: " in page.text and "Go back" in page.text
    assert "abc" not in page.text.split("<main", 1)[-1].split("</h1>", 1)[0]
    api = staff.client.get("/patients", params={"limit": "abc"})
    assert api.headers["content-type"].startswith("application/json")  # the API keeps its JSON


def test_an_error_page_keeps_the_menu_for_a_signed_in_user(staff: Console) -> None:
    """A missing patient showed a page without the menu and with a "Sign in" button."""
    page = staff.client.get("/console/patients/999999")
    assert page.status_code == 404 and "not found" in page.text
    assert 'href="/console/patients"' in page.text and ">Sign in<" not in page.text
    staff.client.cookies.clear()
    signed_out = staff.client.get("/console/nowhere")
    assert signed_out.status_code == 404 and ">Sign in<" in signed_out.text


def test_the_list_shows_the_newest_patients_first_and_says_so(staff: Console) -> None:
    # The front desk just added or imported someone: that patient heads the list, not page 400.
    assert "No patients yet" in staff.client.get("/console/patients").text
    _new_patient(staff, first_name="Ana", last_name="Zavala", external_ref="MRN-1")
    _new_patient(
        staff,
        first_name="Bo",
        last_name="Abbott",
        phone="(415) 555-0199",
        email="bo@x.org",
        external_ref="MRN-2",
    )
    page = staff.client.get("/console/patients").text
    assert "Newest first" in page
    assert page.index("Abbott, Bo") < page.index("Zavala, Ana")
