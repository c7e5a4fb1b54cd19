"""Staff and operators use the console in Chromium, against the real server.

Each page is checked with axe-core (no serious or critical violation) and for keyboard reach,
and its screenshot is saved under build/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from engage.consent import service as consent_service
from engage.enrollment import Slot, enroll_course
from engage.patients.records import create_patient
from engage.schedule.loader import load_schedule
from engage.store.base import utcnow
from engage.store.message_states import transition
from engage.store.messages import Message, MessageState
from engage.store.users import UserSession
from tests.browser.conftest import TWILIO_TOKEN, Server, check_page, shoot, sign_in, utc
from tests.processes import ROOT

pytestmark = pytest.mark.browser


def _patient(
    server: Server, first: str, last: str, phone: str, *, infusion_in_days: float = 1
) -> int:
    schedule = load_schedule(ROOT / "schedules.yaml")
    now = utcnow()
    sessions = server.sessions()
    with sessions.begin() as session:
        patient = create_patient(
            session,
            {
                "first_name": first,
                "last_name": last,
                "phone": phone,
                "email": None,
                "timezone": "America/New_York",
                "locale": "en",
                "preferred_channel": "sms",
                "external_ref": None,
            },
            actor="test",
            now=now,
        )
        consent_service.change(
            session,
            patient.id,
            "sms",
            granted=True,
            source="intake-form",
            actor="test",
            now=now,
            notice="v1",
            origin=consent_service.Origin.STAFF,
        )
        patient_id = patient.id
    start = (utc(days=infusion_in_days)).replace(minute=0, second=0, microsecond=0)
    with sessions() as session:
        enroll_course(
            session,
            schedule,
            patient_id,
            ["pre-infusion", "post-infusion"],
            [Slot(start)],
            now=now,
            actor="test",
            location="Room 2",
        )
    return patient_id


def _first_message(server: Server, patient_id: int, **where: Any) -> Message:
    with server.sessions()() as session:
        query = select(Message).where(
            Message.patient_id == patient_id, Message.state == MessageState.SCHEDULED
        )
        for key, value in where.items():
            query = query.where(getattr(Message, key) == value)
        return session.scalars(query.order_by(Message.due_at)).first()


def test_signing_in_opens_today(page, server: Server) -> None:
    page.goto("/console/patients")
    assert "/console/signin" in page.url
    check_page(page, "signin")
    page.fill("#username", "staff")
    page.fill("#password", "wrong password here")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    page.fill("#username", "staff")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/patients")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()


def test_today_lists_appointments_and_patients_to_call(page, server: Server) -> None:
    patient_id = _patient(server, "Grace", "Hopper", "+12125550101", infusion_in_days=0.2)
    flagged = _first_message(server, patient_id, critical=True) or _first_message(
        server, patient_id
    )
    with server.sessions().begin() as session:
        message = session.get(Message, flagged.id)
        transition(session, message, MessageState.FLAGGED, "no consented channel open", "test")
    sign_in(page)
    expect(page.locator("text=Hopper").first).to_be_visible()
    assert "no consented channel open" in page.content()
    check_page(page, "today")


def test_import_a_csv_with_two_bad_rows_fix_it_and_confirm(page, server: Server) -> None:
    sign_in(page)
    page.get_by_role("link", name="Import").click()
    header = "first_name,last_name,phone,email,timezone,sms_consent,external_ref\n"
    bad = header + (
        "Ada,Lovelace,2125550111,,America/New_York,yes,MRN-11\n"
        "Alan,Turing,12,,America/New_York,yes,MRN-12\n"
        "Edsger,Dijkstra,2125550113,,Europe/Atlantis,yes,MRN-13\n"
    )
    page.set_input_files(
        "#file", files=[{"name": "intake.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    page.get_by_role("button", name="Upload and check").click()
    problems = page.locator("table tbody tr")
    assert problems.count() == 2
    assert "phone" in problems.nth(0).inner_text() and "timezone" in problems.nth(1).inner_text()
    check_page(page, "import-check")
    fixed = bad.replace(",12,", ",2125550112,").replace("Europe/Atlantis", "Europe/Amsterdam")
    page.set_input_files(
        "#file", files=[{"name": "intake.csv", "mimeType": "text/csv", "buffer": fixed.encode()}]
    )
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("text=Every row is valid")).to_be_visible()
    page.get_by_role("button", name="Import 3 patients").click()
    expect(page.locator("text=3 created")).to_be_visible()
    shoot(page, "import-done")


def test_find_a_patient(page, server: Server) -> None:
    _patient(server, "Katherine", "Johnson", "+12125550121")
    sign_in(page)
    page.get_by_role("link", name="Patients").click()
    page.fill("#q", "(212) 555-0121")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q="))
    page.get_by_role("link", name="Johnson, Katherine").click()
    expect(page.get_by_role("heading", name="Katherine Johnson")).to_be_visible()
    assert "New York time (America/New_York)" in page.content()
    check_page(page, "patient")
    page.go_back()
    page.fill("#q", "kath")
    page.keyboard.press("Enter")
    # The search is a page load: check the results page, not the one being left.
    expect(page).to_have_url(re.compile(r"q=kath"))
    expect(page.get_by_role("link", name="Johnson, Katherine")).to_be_visible()
    check_page(page, "patients")


def test_enroll_in_a_course_with_the_whole_timeline_previewed(page, server: Server) -> None:
    sign_in(page)
    page.goto("/console/patients/new")
    page.fill("#f-first_name", "Dorothy")
    page.fill("#f-last_name", "Vaughan")
    page.fill("#f-phone", "12")
    page.fill("#f-timezone", "America/Chicago")
    page.get_by_role("button", name="Save patient").click()
    expect(page.locator("#e-phone")).to_be_visible()  # the error at its field
    check_page(page, "patient-form-errors")
    page.fill("#f-phone", "(312) 555-0131")
    page.get_by_role("button", name="Save patient").click()
    page.get_by_role("link", name="Enroll in a course").first.click()
    day = (utc(days=10)).strftime("%Y-%m-%d")
    page.fill("#inf-1", f"{day}T09:30")
    page.get_by_role("button", name="Preview the whole timeline").click()
    preview = page.locator("#h-prev")
    expect(preview).to_be_visible()
    rows = page.locator("section[aria-labelledby=h-prev] tbody tr")
    assert rows.count() >= 3
    assert re.search(r"C[SD]T", rows.first.inner_text())  # Chicago time, named
    check_page(page, "enroll-preview")
    page.get_by_role("button", name="Confirm enrollment").click()
    assert page.get_by_role("status").inner_text().startswith("Enrolled in")
    expect(page.locator("#h-tl")).to_be_visible()


def test_every_page_in_the_menu_loads_without_a_browser_error(page, server: Server) -> None:
    # The console is the clinic's tool all day: a page that logs an error (a missing icon, a
    # script that fails) is noise in every support session's developer tools.
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, "admin")
    menu = [a.get_attribute("href") for a in page.locator("header nav a").all()]
    assert len(menu) >= 8, menu
    for href in menu:
        page.goto(href)
        page.wait_for_load_state("networkidle")
    assert errors == []


def test_a_patient_whose_zone_is_typed_as_a_city_is_saved_in_that_zone(
    page, server: Server
) -> None:
    # The front desk knows the patient lives in Denver, not that the zone is "America/Denver".
    sign_in(page)
    page.goto("/console/patients/new")
    assert page.locator("#zones option[value='America/Denver']").count() == 1  # suggested
    page.fill("#f-first_name", "Katherine")
    page.fill("#f-last_name", "Johnson")
    page.fill("#f-phone", "(720) 555-0142")
    page.fill("#f-timezone", "Denvr")
    page.get_by_role("button", name="Save patient").click()
    expect(page.locator("#e-timezone")).to_contain_text("a city such as Chicago")
    page.fill("#f-timezone", "denver")
    page.get_by_role("button", name="Save patient").click()
    expect(page.get_by_text("Denver time (America/Denver)")).to_be_visible()


def test_move_an_appointment_and_see_the_diff(page, server: Server) -> None:
    patient_id = _patient(server, "Mary", "Jackson", "+12125550141", infusion_in_days=5)
    sign_in(page)
    page.goto(f"/console/patients/{patient_id}")
    page.get_by_role("link", name="Move…").click()
    new = (utc(days=7)).strftime("%Y-%m-%d")
    page.fill("#starts_at", f"{new}T14:00")
    page.get_by_role("button", name="Preview the change").click()
    diff = page.locator("section[aria-labelledby=h-diff]")
    assert diff.locator(".diff-old").count() >= 1 and "moved" in diff.inner_text()
    check_page(page, "move-diff")
    page.get_by_role("button", name="Move the appointment").click()
    assert "Appointment moved" in page.get_by_role("status").inner_text()
    assert "moved from" in page.content()


def test_a_signed_stop_closes_sms_and_the_timeline_shows_it(page, server: Server) -> None:
    patient_id = _patient(server, "Annie", "Easley", "+12125550151", infusion_in_days=3)
    params = {
        "From": "+12125550151",
        "To": "+15005550006",
        "Body": "STOP",
        "MessageSid": "SMbrowser1",
        "AccountSid": "AC1",
    }
    url = f"{server.url}/webhooks/twilio/sms"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    answer = page.request.post(url, form=params, headers={"X-Twilio-Signature": signature})
    assert answer.status == 200
    unsigned = page.request.post(url, form=params | {"MessageSid": "SMbrowser2"})
    assert unsigned.status in (401, 403)
    sign_in(page)
    page.goto(f"/console/patients/{patient_id}")
    consent = page.locator("section[aria-labelledby=h-consent]").inner_text()
    assert "closed" in consent and "Patient texted STOP" in consent
    timeline = page.locator("section[aria-labelledby=h-tl]").inner_text()
    assert "sms" in timeline.lower() and (
        "will not" in timeline or "suppressed" in timeline or "closed" in timeline
    )
    shoot(page, "patient-after-stop")
    page.get_by_role("link", name="Inbox").click()
    page.select_option("#keyword", "stop")
    page.get_by_role("button", name="Show").click()
    assert "STOP" in page.locator("table").inner_text()
    check_page(page, "inbox")


def test_an_operator_requeues_a_dead_letter(page, server: Server) -> None:
    patient_id = _patient(server, "Hedy", "Lamarr", "+12125550161", infusion_in_days=4)
    dead = _first_message(server, patient_id)
    with server.sessions().begin() as session:
        message = session.get(Message, dead.id)
        transition(session, message, MessageState.SENDING, "test", "test")
        message.last_error_code = "30003"
        transition(session, message, MessageState.FAILED, "unreachable handset", "test")
    sign_in(page, "ops")
    page.get_by_role("link", name="Operations").click()
    expect(page.locator("text=Backlog").first).to_be_visible()
    check_page(page, "operations")
    page.check(f"#rq-{dead.id}")
    page.get_by_role("button", name="Requeue selected").click()
    assert "1 requeued" in page.get_by_role("status").inner_text()
    with server.sessions()() as session:
        assert session.get(Message, dead.id).state == MessageState.SCHEDULED


def test_staff_cannot_open_operations_or_audit_but_admin_can(page, server: Server) -> None:
    sign_in(page)
    assert page.get_by_role("link", name="Operations").count() == 0
    for path in ("/console/operations", "/console/audit"):
        answer = page.goto(path)
        assert answer.status == 403
        assert "Ask an admin" in page.content()
    shoot(page, "forbidden")
    page.context.clear_cookies()
    sign_in(page, "admin")
    page.get_by_role("link", name="Audit").click()
    assert "console:staff" in page.content()
    check_page(page, "audit")
    page.get_by_role("link", name="Templates").click()
    check_page(page, "templates")
    page.get_by_role("link", name="Users").click()
    check_page(page, "users")


def test_a_session_expires_after_the_idle_timeout(page, server: Server) -> None:
    sign_in(page)
    with server.sessions().begin() as session:
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=16)))
    page.goto("/console/patients")
    assert "/console/signin" in page.url
    assert "Your session ended" in page.get_by_role("status").inner_text()


def test_a_form_without_its_csrf_token_is_refused(page, server: Server) -> None:
    sign_in(page)
    page.goto("/console/patients/new")
    page.evaluate("() => document.querySelectorAll('input[name=csrf]').forEach(el => el.remove())")
    page.fill("#f-first_name", "Eve")
    page.fill("#f-last_name", "Forged")
    page.fill("#f-phone", "(212) 555-0171")
    page.fill("#f-timezone", "America/New_York")
    page.get_by_role("button", name="Save patient").click()
    assert "This form has expired" in page.content()
    shoot(page, "csrf-refused")
    page.goto("/console/patients?q=Forged")
    assert "No patient matches" in page.content()


def test_docs_render_offline(page, server: Server) -> None:
    blocked: list[str] = []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(server.url)
            else (blocked.append(route.request.url), route.abort())
        ),
    )
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=20_000)
    assert blocked == []
    shoot(page, "docs")


def _flag(server: Server, patient_id: int) -> int:
    flagged = _first_message(server, patient_id, critical=True) or _first_message(
        server, patient_id
    )
    with server.sessions().begin() as session:
        message = session.get(Message, flagged.id)
        transition(session, message, MessageState.FLAGGED, "staff must call: no channel", "test")
    return flagged.id


def test_resolve_a_flagged_message_with_a_note_by_keyboard(page, server: Server) -> None:
    patient_id = _patient(server, "Valerie", "Thomas", "+12125550181", infusion_in_days=0.3)
    message_id = _flag(server, patient_id)
    sign_in(page)
    form = page.locator(f"form[action='/console/flagged/{message_id}/resolve']")
    note = form.get_by_label("What was done")
    note.focus()
    page.keyboard.type("No answer; voicemail left with the clinic number")
    page.keyboard.press("Tab")  # "Reached: resolve"
    page.keyboard.press("Tab")  # "Could not reach: resolve"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Resolved: the note is kept.")
    assert page.locator(f"form[action='/console/flagged/{message_id}/resolve']").count() == 0
    resolved = page.locator("ul[aria-labelledby=h-resolved]").inner_text()
    assert "Valerie Thomas" in resolved and "could not reach" in resolved
    assert "voicemail left" in resolved and "by console:staff" in resolved
    check_page(page, "today-resolved")
    page.get_by_role("link", name="Valerie Thomas").first.click()
    expect(page.locator(f"#m-{message_id}")).to_contain_text("voicemail left")


def test_staff_reopen_a_stopped_patient_only_with_express_consent(page, server: Server) -> None:
    patient_id = _patient(server, "Evelyn", "Granville", "+12125550191", infusion_in_days=6)
    with server.sessions().begin() as session:
        consent_service.change(
            session,
            patient_id,
            "sms",
            granted=False,
            source="sms-stop",
            actor="twilio",
            now=utcnow(),
            origin=consent_service.Origin.PATIENT,
        )
    sign_in(page)
    page.goto(f"/console/patients/{patient_id}")
    form = page.locator("form.consent-form")
    expect(form.locator("#held-sms")).to_contain_text("patient texted STOP on")
    form.get_by_label("How the patient told you").select_option("phone-call")
    form.get_by_label("I told the patient").check()
    form.get_by_role("button", name="Record consent").click()  # no reason: refused at the field
    expect(page.locator("#ce-reason")).to_contain_text("required")
    expect(page.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    check_page(page, "consent-refused")
    with server.sessions()() as session:
        assert consent_service.current(session, patient_id, "sms").granted is False
    page.get_by_label("Reason").focus()
    page.keyboard.type("Called 2 Dec and asked for texts again")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("SMS consent granted.")
    page.locator("summary", has_text="Consent ledger").click()
    ledger = page.locator("section[aria-labelledby=h-consent] table").last.inner_text()
    assert "Called 2 Dec and asked for texts again" in ledger and "console:staff" in ledger
    assert "express" in ledger and "Patient texted STOP" in ledger
    check_page(page, "patient-consent")


def test_a_reply_is_read_and_marked_handled_by_keyboard(page, server: Server) -> None:
    _patient(server, "Mae", "Jemison", "+12125550201", infusion_in_days=8)
    params = {
        "From": "+12125550201",
        "To": "+15005550006",
        "Body": "Can my sister drive me home after the infusion?",
        "MessageSid": "SMbrowserReply1",
        "AccountSid": "AC1",
    }
    url = f"{server.url}/webhooks/twilio/sms"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    assert page.request.post(url, form=params, headers={"X-Twilio-Signature": signature}).ok
    sign_in(page)
    expect(page.locator("section[aria-labelledby=h-replies]")).to_contain_text("my sister")
    page.get_by_role("link", name="Open the inbox").click()
    row = page.locator("tr", has_text="my sister")
    check_page(page, "inbox-to-read")
    row.get_by_role("button", name=re.compile("^Mark handled")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Marked handled.")
    assert page.locator("tr", has_text="my sister").count() == 0
    page.select_option("#shown", "handled")
    page.get_by_role("button", name="Show").click()
    handled = page.locator("tr", has_text="my sister")
    expect(handled).to_contain_text("by console:staff")
    check_page(page, "inbox-handled")
    page.get_by_role("link", name="Today").click()
    assert "my sister" not in page.locator("section[aria-labelledby=h-replies]").inner_text()


def test_a_large_import_runs_in_the_background_with_its_progress(page, server: Server) -> None:
    rows = "".join(
        f"Big{i},Import{i},+1646{i + 3000000:07d},,America/New_York,yes,BIG-{i}\n"
        for i in range(LARGE_IMPORT_ROWS)
    )
    data = ("first_name,last_name,phone,email,timezone,sms_consent,external_ref\n" + rows).encode()
    sign_in(page)
    page.get_by_role("link", name="Import").click()
    page.set_input_files(
        "#file", files=[{"name": "large.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_url(re.compile(r"/console/import/jobs/\d+$"))
    # Checking takes longer than the request waits: the page polls until the check is shown.
    expect(page.locator("text=Every row is valid")).to_be_visible(timeout=120_000)
    page.get_by_role("button", name=f"Import {LARGE_IMPORT_ROWS} patients").click()
    progress = page.locator("progress")
    expect(progress).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("% done")
    shoot(page, "import-progress")
    expect(page.get_by_role("heading", name=re.compile("^Done: "))).to_contain_text(
        f"{LARGE_IMPORT_ROWS} created", timeout=240_000
    )
    check_page(page, "import-large-done")


LARGE_IMPORT_ROWS = 30_000  # about 4 s to check and 10 s to import here: both outlast a request


def test_an_operator_sees_the_hl7_dead_letters_and_reapplies_one(page, server: Server) -> None:
    from engage.store import Hl7Message, Hl7State
    from tests.hl7_kit import siu

    raw = siu("S12", "BROWSER-1", "20270310090000", patient="7700123").decode()
    with server.sessions().begin() as session:
        row = Hl7Message(
            sender="EPIC^BAYVIEW",
            control_id="BROWSER-1",
            message_type="SIU^S12",
            received_at=utcnow(),
            raw=raw,
            state=Hl7State.FAILED,
            ack_code="AE",
            reason="PID-3: no patient with this MRN",
            error_field="PID-3",
            attempts=1,
            updated_at=utcnow(),
        )
        session.add(row)
        session.flush()
        journal_id = row.id
    sign_in(page, "ops")
    page.get_by_role("link", name="HL7 feed").click()
    table = page.locator("section[aria-labelledby=h-dead] table")
    expect(table).to_contain_text("BROWSER-1")
    expect(table).to_contain_text("PID-3: no patient with this MRN")
    assert "7700123" not in page.content() and "RIVERA" not in page.content()
    check_page(page, "hl7-dead-letters")
    button = page.get_by_role("button", name=re.compile(f"^Re-apply message {journal_id} "))
    button.click()  # the patient is still unknown: it stays a dead letter, one try more
    expect(page.get_by_role("status")).to_contain_text(f"Message {journal_id} is still a dead")
    expect(page.locator("tr", has_text="BROWSER-1")).to_contain_text("PID-3")
    with server.sessions().begin() as session:  # the cause, fixed: the patient registered
        create_patient(
            session,
            {
                "first_name": "Ana",
                "last_name": "Rivera",
                "phone": "+12125550177",
                "email": None,
                "timezone": "America/Los_Angeles",
                "locale": "en",
                "preferred_channel": "sms",
                "external_ref": "BAYVIEW:7700123",
            },
            actor="test",
            now=utcnow(),
        )
    page.get_by_role("button", name=re.compile(f"^Re-apply message {journal_id} ")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(f"Message {journal_id} re-applied: applied.")
    expect(page.locator("tr", has_text="BROWSER-1")).to_have_count(0)
    check_page(page, "hl7-reapplied")
