"""The first clinic's content: schedules.yaml and every template it names, in English and Spanish.

SMS lengths are measured with a worst case a real patient can hit: a 12-letter first name and the
longest long-form date either locale prints (a Wednesday in September), so a message that fits
here fits for every appointment.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engage.rendering.context import AppointmentFacts, build_context
from engage.rendering.environment import make_environment, variants_for
from engage.rendering.render import render_email, render_sms
from engage.rendering.review import read_review
from engage.rendering.segments import is_gsm7, needless_ucs2
from engage.rendering.validate import validate
from engage.schedule.loader import load_schedule
from engage.schedule.models import Schedule, Step

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE_PATH = ROOT / "schedules.yaml"
TEMPLATES = ROOT / "templates"
SCHEDULE = load_schedule(SCHEDULE_PATH)
ENV = make_environment(TEMPLATES)
LOCALES = SCHEDULE.clinic.locales

LONG_FIRST_NAME = {"en": "Christabelle", "es": "María Isabel"}  # 12 characters each
# "Wednesday, September 29, 2027" / "miércoles, 29 de septiembre de 2027": the longest dates.
LONGEST_DATE = datetime(2027, 9, 29, 10, 30, tzinfo=ZoneInfo(SCHEDULE.clinic.timezone))
STOP_LINE = {"en": "Reply STOP to opt out.", "es": "Responda STOP para cancelar."}
NOT_ADVICE = {"en": "not medical advice", "es": "no consejo médico"}
# What a message seen by anyone else (lock screen, shared inbox, a non-BAA email provider) must
# not reveal: the drug and the diagnosis, in either language.
PROTECTED_WORDS = re.compile(r"ketamin|migra(i|ñ)", re.IGNORECASE)
# Characters an editor's word processor slips in; outside GSM-7 they double an SMS's price.
WORD_PROCESSOR_PUNCTUATION = "\u2018\u2019\u201c\u201d\u00a0\u202f\u2013\u2014\u2026"

ALL_STEPS = [step for sequence in SCHEDULE.sequences.values() for step in sequence.steps]
STEPS = [pytest.param(step, id=step.template) for step in ALL_STEPS]
SMS_CASES = [(step, locale) for step in ALL_STEPS if "sms" in step.channels for locale in LOCALES]
EMAIL_CASES = [(s, locale) for s in ALL_STEPS if "email" in s.channels for locale in LOCALES]


def cases(pairs: list[tuple[Step, str]]) -> list[Any]:
    return [pytest.param(step, locale, id=f"{step.template}-{locale}") for step, locale in pairs]


SMS_STEPS = cases(SMS_CASES)
EMAIL_STEPS = cases(EMAIL_CASES)
ALL_TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.j2"))

# Babel (CLDR 42 and later) writes "10:30\u202fAM" with a narrow no-break space, and the message
# context passes it through: one such character forces UCS-2 and more than doubles the price of
# every English SMS that quotes `appointment.time`. Until engage.rendering.context normalises it,
# those cases are expected to fail; the marker lifts itself once the context is fixed.
_SAMPLE_TIME = build_context(
    clinic=SCHEDULE.clinic,
    first_name="A",
    locale="en",
    timezone=SCHEDULE.clinic.timezone,
    channel="sms",
    anchor="infusion.start",
    appointment=AppointmentFacts(LONGEST_DATE),
)["appointment"]["time"]
TIME_FORCES_UCS2 = not is_gsm7(_SAMPLE_TIME)
KNOWN_TIME_DEFECT = pytest.mark.xfail(
    TIME_FORCES_UCS2,
    reason=f"appointment.time {_SAMPLE_TIME!r} is not GSM-7 (narrow no-break space from Babel)",
    strict=True,
)


def gsm7_cases(pairs: list[tuple[Step, str]]) -> list[Any]:
    """Cases whose English SMS quotes the appointment time carry the known-defect marker."""
    params = []
    for step, locale in pairs:
        source = (TEMPLATES / locale / f"{step.template}.sms.j2").read_text(encoding="utf-8")
        quotes_time = locale == "en" and "appointment.time" in source
        marks = [KNOWN_TIME_DEFECT] if quotes_time else []
        params.append(pytest.param(step, locale, id=f"{step.template}-{locale}", marks=marks))
    return params


def context(
    step: Step, locale: str, channel: str, schedule: Schedule = SCHEDULE, first_name: str = ""
) -> dict[str, Any]:
    return build_context(
        clinic=schedule.clinic,
        first_name=first_name or LONG_FIRST_NAME[locale],
        locale=locale,
        timezone=schedule.clinic.timezone,
        channel=channel,
        anchor=step.anchor,
        unsubscribe_url="https://clinic.example.org/unsubscribe/0123456789abcdef",
        appointment=AppointmentFacts(LONGEST_DATE, number=2),
        course_completed_at=LONGEST_DATE,
    )


def sms_body(step: Step, locale: str) -> str:
    return render_sms(ENV, step.template, locale, context(step, locale, "sms")).body


def test_the_clinic_has_the_four_sequences_of_the_spec() -> None:
    assert set(SCHEDULE.sequences) == {"education", "pre-infusion", "post-infusion", "booster"}


@KNOWN_TIME_DEFECT
def test_engage_validate_finds_no_problem_and_flags_every_template_for_clinical_review() -> None:
    report = validate(SCHEDULE_PATH, TEMPLATES)
    assert report.problems == []
    assert "awaiting clinical review" in report.summary


def test_only_the_welcome_of_education_is_sent_late() -> None:
    late = [s.id for s in SCHEDULE.sequence("education").steps if s.if_late == "send"]
    assert late == ["welcome"]


def test_discharge_safety_message_is_critical_and_sent_at_discharge() -> None:
    discharge = SCHEDULE.sequence("post-infusion").step("discharge")
    assert discharge.critical
    assert discharge.at is None
    assert str(discharge.offset) == "+0m"


def test_first_infusion_gets_its_own_pre_infusion_steps() -> None:
    steps = [s for s in SCHEDULE.sequence("pre-infusion").steps if s.anchor == "infusion.start"]
    assert {s.when.occurrence for s in steps} == {"first", "later"}
    first = {s.template for s in steps if s.when.occurrence == "first"}
    later = {s.template for s in steps if s.when.occurrence == "later"}
    assert first and later and not first & later


def test_pre_infusion_emails_attach_the_appointment_to_a_calendar() -> None:
    reminders = [s for s in SCHEDULE.sequence("pre-infusion").steps if s.anchor == "infusion.start"]
    assert all(s.attach == ("calendar",) for s in reminders)


@pytest.mark.parametrize("step", STEPS)
def test_every_step_has_its_files_in_every_locale(step: Step) -> None:
    for locale in LOCALES:
        for channel in step.channels:
            for variant in variants_for(channel):
                assert (TEMPLATES / locale / f"{step.template}.{variant}.j2").is_file()


@pytest.mark.parametrize("step", STEPS)
def test_both_locales_render_with_the_same_context(step: Step) -> None:
    for channel in step.channels:
        shared = context(step, "en", channel)
        for locale in LOCALES:
            if channel == "sms":
                assert render_sms(ENV, step.template, locale, shared).body
            else:
                email = render_email(ENV, step.template, locale, shared)
                assert email.subject and email.html and email.text


@pytest.mark.parametrize("step, locale", gsm7_cases(SMS_CASES))
def test_sms_fits_the_clinic_segment_budget(step: Step, locale: str) -> None:
    budget = SCHEDULE.clinic.sms_segment_budget[locale]
    segments = render_sms(ENV, step.template, locale, context(step, locale, "sms")).segments
    assert segments.segments <= budget, f"{segments} over {budget}"


def test_english_sms_budget_is_two_segments_and_spanish_three() -> None:
    assert SCHEDULE.clinic.sms_segment_budget == {"en": 2, "es": 3}


@pytest.mark.parametrize("step, locale", gsm7_cases([c for c in SMS_CASES if c[1] == "en"]))
def test_english_sms_is_plain_gsm7_without_word_processor_punctuation(
    step: Step, locale: str
) -> None:
    body = sms_body(step, locale)
    assert needless_ucs2(body) == []
    assert not set(body) & set(WORD_PROCESSOR_PUNCTUATION)
    assert is_gsm7(body), sorted({c for c in body if not is_gsm7(c)})


@pytest.mark.parametrize("step, locale", SMS_STEPS)
def test_sms_names_neither_the_drug_nor_the_diagnosis(step: Step, locale: str) -> None:
    assert not PROTECTED_WORDS.search(sms_body(step, locale))


@pytest.mark.parametrize("step, locale", SMS_STEPS)
def test_sms_ends_by_saying_how_to_stop(step: Step, locale: str) -> None:
    body = sms_body(step, locale)
    assert "STOP" in body
    assert body.endswith(STOP_LINE[locale])


@pytest.mark.parametrize("step, locale", SMS_STEPS)
def test_sms_names_the_clinic(step: Step, locale: str) -> None:
    assert sms_body(step, locale).startswith(f"{SCHEDULE.clinic.settings['sms_name']}: ")


@pytest.mark.parametrize("step, locale", EMAIL_STEPS)
def test_email_carries_unsubscribe_link_clinic_contact_and_not_advice_notice(
    step: Step, locale: str
) -> None:
    ctx = context(step, locale, "email")
    email = render_email(ENV, step.template, locale, ctx)
    for part in (email.html, email.text):
        assert ctx["links"]["unsubscribe"] in part
        assert SCHEDULE.clinic.phone in part
        assert NOT_ADVICE[locale] in part


@pytest.mark.parametrize(
    "step, locale",
    cases([c for c in EMAIL_CASES if c[0].anchor != "enrolled"]),
)
def test_appointment_and_aftercare_emails_name_neither_the_drug_nor_the_diagnosis(
    step: Step, locale: str
) -> None:
    email = render_email(ENV, step.template, locale, context(step, locale, "email"))
    for part in (email.subject, email.html, email.text):
        assert not PROTECTED_WORDS.search(part)


@pytest.mark.parametrize("step, locale", EMAIL_STEPS)
def test_email_subjects_name_neither_the_drug_nor_the_diagnosis(step: Step, locale: str) -> None:
    email = render_email(ENV, step.template, locale, context(step, locale, "email"))
    assert not PROTECTED_WORDS.search(email.subject)


@pytest.mark.parametrize("locale", LOCALES)
def test_education_says_the_use_is_off_label(locale: str) -> None:
    step = SCHEDULE.sequence("education").step("treatment")
    email = render_email(ENV, step.template, locale, context(step, locale, "email"))
    assert "off-label" in email.text
    assert "FDA" in email.text


@pytest.mark.parametrize("locale", LOCALES)
def test_html_escapes_what_the_patient_typed(locale: str) -> None:
    step = SCHEDULE.sequence("education").step("welcome")
    ctx = context(step, locale, "email", first_name="<b>Ana</b>")
    email = render_email(ENV, step.template, locale, ctx)
    assert "&lt;b&gt;Ana&lt;/b&gt;" in email.html
    assert "<b>Ana</b>" not in email.html


def test_no_template_turns_autoescaping_off() -> None:
    for path in ALL_TEMPLATE_FILES:
        assert "|safe" not in path.read_text(encoding="utf-8").replace(" ", ""), path


@pytest.mark.parametrize("locale", LOCALES)
def test_instructions_quote_the_clinic_settings_not_fixed_numbers(locale: str) -> None:
    changed = {"fasting_hours": 11, "clear_liquids_until_hours": 3, "no_driving_hours": 36}
    clinic = SCHEDULE.clinic.model_copy(
        update={"settings": {**SCHEDULE.clinic.settings, **changed}}
    )
    schedule = SCHEDULE.model_copy(update={"clinic": clinic})
    default_hours = re.compile(r"\b(6|2|24) ?(h|hours|horas)\b")
    for step in SCHEDULE.sequence("pre-infusion").steps:
        for channel in step.channels:
            ctx = context(step, locale, channel, schedule=schedule)
            if channel == "sms":
                text = render_sms(ENV, step.template, locale, ctx).body
            else:
                text = render_email(ENV, step.template, locale, ctx).text
            assert not default_hours.search(text), (step.template, channel)
            if step.id.endswith("1d"):
                assert re.search(r"\b11 ?(h|hours|horas)\b", text), (step.template, channel)
                assert re.search(r"\b3 ?(h|hours|horas)\b", text), (step.template, channel)


@pytest.mark.parametrize("path", ALL_TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_template_file_starts_with_a_review_marker(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert read_review(source) is not None, "first line must be {#- review: ... -#}"
