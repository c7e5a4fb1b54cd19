"""Enrolling with the whole timeline previewed, and moving or cancelling with a diff first."""

from __future__ import annotations

import re

from engage.consent import service as consent_service
from tests.api_kit import NOW
from tests.console_kit import Console


def _new_patient(console: Console, first_name: str, last_name: str, phone: str) -> int:
    answer = console.post(
        "/console/patients/new",
        {
            "first_name": first_name,
            "last_name": last_name,
            "phone": phone,
            "timezone": "America/Los_Angeles",
            "locale": "en",
        },
    )
    return int(answer.headers["location"].split("/")[-1].split("?")[0])


def _patient_with_sms(console: Console) -> int:
    patient_id = _new_patient(console, "Ana", "García", "(415) 555-0123")
    with console.sessions.begin() as session:
        consent_service.change(
            session,
            patient_id,
            "sms",
            granted=True,
            source="intake-form",
            actor="test",
            now=NOW,
            notice="v1",
            origin=consent_service.Origin.STAFF,
        )
    return patient_id


def _enroll_query(*infusions: str) -> dict:
    return {
        "preview": "1",
        "sequence": ["pre-infusion", "post-infusion"],
        "infusion": list(infusions),
        "location": "Room 2",
    }


def test_the_preview_shows_every_message_in_local_time_and_stores_nothing(staff: Console) -> None:
    pid = _patient_with_sms(staff)
    page = staff.client.get(
        f"/console/patients/{pid}/enroll", params=_enroll_query("2027-03-20T10:00")
    )
    assert page.status_code == 200
    assert "What Ana will receive" in page.text and "Confirm enrollment" in page.text
    assert "PDT" in page.text  # the patient's zone, named (20 March 2027 is daylight time)
    assert "Not enrolled" in staff.client.get(f"/console/patients/{pid}").text


def test_the_preview_says_why_a_time_moved_and_what_each_message_is_for(staff: Console) -> None:
    # An infusion tomorrow: the three-days-before preparation's own time (Mon 08 Mar) has
    # passed, so it goes at once; the preview said only "planned" and the step's id.
    pid = _patient_with_sms(staff)
    page = staff.client.get(
        f"/console/patients/{pid}/enroll", params=_enroll_query("2027-03-11T10:00")
    ).text
    row = page[page.index("first-3d") :].split("</tr>", 1)[0]
    assert "Three days before the first infusion, the full preparation." in row
    assert "moved: its time (Mon 08 Mar, 10:00 PST) had passed, so it goes at once" in row
    on_time = page[page.index("first-1d") :].split("</tr>", 1)[0]
    assert "moved" not in on_time


def test_a_patient_who_agreed_to_nothing_is_warned_of_before_enrolling(staff: Console) -> None:
    # Every row said "suppressed" in small print; staff enrolled patients into silence.
    silent = _new_patient(staff, "Bo", "Lind", "(415) 555-0177")
    page = staff.client.get(
        f"/console/patients/{silent}/enroll", params=_enroll_query("2027-03-20T10:00")
    ).text
    warning = page[page.index('id="held-warning"') :].split("</div>", 1)[0]
    assert "None of these" in warning and "will reach Bo" in warning
    assert "flagged for staff to call" in warning  # the discharge safety message
    assert f"/console/patients/{silent}#h-consent" in warning
    reachable = _patient_with_sms(staff)
    page = staff.client.get(
        f"/console/patients/{reachable}/enroll", params=_enroll_query("2027-03-20T10:00")
    ).text
    assert 'id="held-warning"' not in page


def test_confirming_enrolls_books_and_the_timeline_lists_the_messages(staff: Console) -> None:
    pid = _patient_with_sms(staff)
    answer = staff.post(
        f"/console/patients/{pid}/enroll",
        {"sequence": ["pre-infusion", "post-infusion"], "infusion": ["2027-03-20T10:00"]},
    )
    assert answer.status_code == 303
    page = staff.client.get(answer.headers["location"]).text
    assert "1 appointment(s) booked" in page
    assert "pre-infusion" in page and "Sat 20 Mar 2027, 10:00 PDT" in page
    assert re.search(r'href="/console/messages/\d+"', page)


def test_the_enroll_page_shows_what_the_patient_is_already_in_instead_of_offering_it(
    staff: Console,
) -> None:
    """It pre-ticked education, pre- and post-infusion for a patient already in them, and the
    preview answered "patient 1 is already enrolled in 'education' (enrollment 1, active)"."""
    pid = _patient_with_sms(staff)
    staff.post(
        f"/console/patients/{pid}/enroll",
        {"sequence": ["pre-infusion", "post-infusion"], "infusion": ["2027-03-20T10:00"]},
    )
    page = staff.client.get(f"/console/patients/{pid}/enroll").text
    for name in ("pre-infusion", "post-infusion"):
        assert f'name="sequence" value="{name}"' not in page  # not offered again
        assert re.search(rf"<strong>{name}</strong> <span[^>]*>already enrolled \(active\)", page)
    assert re.search(r'name="sequence" value="education" id="seq-education" checked', page)


def test_a_time_the_clocks_skip_is_refused_at_its_field(staff: Console) -> None:
    pid = _patient_with_sms(staff)
    page = staff.client.get(
        f"/console/patients/{pid}/enroll", params=_enroll_query("2027-03-14T02:30")
    )
    assert "does not exist in America/Los_Angeles" in page.text
    assert "Confirm enrollment" not in page.text


def test_moving_shows_which_messages_move_from_when_to_when_before_confirming(
    staff: Console,
) -> None:
    pid = _patient_with_sms(staff)
    staff.post(
        f"/console/patients/{pid}/enroll",
        {"sequence": ["pre-infusion"], "infusion": ["2027-03-20T10:00"]},
    )
    page = staff.client.get(f"/console/patients/{pid}").text
    appointment = re.search(r"/console/appointments/(\d+)/move", page).group(1)
    preview = staff.client.get(
        f"/console/appointments/{appointment}/move", params={"starts_at": "2027-03-27T10:00"}
    )
    assert "What this changes for the patient" in preview.text
    assert preview.text.count('class="state s-scheduled">moved') >= 1
    assert "diff-old" in preview.text
    assert (
        "Sat 20 Mar 2027, 10:00 PDT" in staff.client.get(f"/console/patients/{pid}").text
    )  # unchanged
    done = staff.post(
        f"/console/appointments/{appointment}/move", {"starts_at": "2027-03-27T10:00"}
    )
    assert done.status_code == 303
    assert "Sat 27 Mar 2027, 10:00 PDT" in staff.client.get(f"/console/patients/{pid}").text


def test_cancelling_shows_what_is_cancelled_then_cancels(staff: Console) -> None:
    pid = _patient_with_sms(staff)
    staff.post(
        f"/console/patients/{pid}/enroll",
        {"sequence": ["pre-infusion"], "infusion": ["2027-03-20T10:00"]},
    )
    page = staff.client.get(f"/console/patients/{pid}").text
    appointment = re.search(r"/console/appointments/(\d+)/cancel", page).group(1)
    preview = staff.client.get(f"/console/appointments/{appointment}/cancel").text
    assert ">cancelled</span>" in preview
    assert (
        staff.post(f"/console/appointments/{appointment}/cancel", {"reason": "unwell"}).status_code
        == 303
    )
    assert "s-cancelled" in staff.client.get(f"/console/patients/{pid}").text


def test_pausing_needs_a_reason(staff: Console) -> None:
    pid = _patient_with_sms(staff)
    staff.post(
        f"/console/patients/{pid}/enroll",
        {"sequence": ["pre-infusion"], "infusion": ["2027-03-20T10:00"]},
    )
    page = staff.client.get(f"/console/patients/{pid}").text
    enrollment = re.search(r"/console/enrollments/(\d+)/pause", page).group(1)
    refused = staff.post(f"/console/enrollments/{enrollment}/pause", {"reason": ""})
    assert refused.status_code == 400 and "say why" in refused.text
    assert (
        staff.post(f"/console/enrollments/{enrollment}/pause", {"reason": "travelling"}).status_code
        == 303
    )
    assert "s-paused" in staff.client.get(f"/console/patients/{pid}").text


def test_a_message_text_opens_rendered(staff: Console) -> None:
    pid = _patient_with_sms(staff)
    staff.post(
        f"/console/patients/{pid}/enroll",
        {"sequence": ["pre-infusion"], "infusion": ["2027-03-20T10:00"]},
    )
    page = staff.client.get(f"/console/patients/{pid}").text
    message = re.search(r'href="/console/messages/(\d+)"', page).group(1)
    fragment = staff.client.get(f"/console/messages/{message}", headers={"HX-Request": "true"}).text
    assert '<pre class="body">' in fragment and "<html" not in fragment
    assert "Ana" in fragment or "SMS segment" in fragment
