"""Keyword answers are short, GSM-7 and one segment in both languages, and quote the clinic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engage.inbound.replies import local_when, reply
from engage.rendering.environment import make_environment
from engage.rendering.segments import count_segments, is_gsm7
from engage.schedule.loader import load_schedule

ROOT = Path(__file__).resolve().parents[2]
CLINIC = load_schedule(ROOT / "schedules.yaml").clinic
ENV = make_environment(ROOT / "templates")


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("kind", ["stop", "start", "help", "confirmed", "nothing"])
def test_each_answer_is_one_gsm7_segment(kind: str, locale: str) -> None:
    text = reply(
        ENV,
        CLINIC,
        kind,
        locale,
        when=local_when(datetime(2027, 3, 20, 17, tzinfo=UTC), "America/Los_Angeles", locale),
    )
    assert is_gsm7(text) and count_segments(text).segments == 1, text


def test_help_names_the_clinic_its_phone_and_how_to_stop() -> None:
    text = reply(ENV, CLINIC, "help", "en")
    assert CLINIC.settings["sms_name"] in text and CLINIC.phone in text and "STOP" in text


def test_an_unknown_locale_answers_in_english() -> None:
    assert reply(ENV, CLINIC, "stop", "fr") == reply(ENV, CLINIC, "stop", "en")


def test_local_when_reads_the_patients_clock() -> None:
    moment = datetime(2027, 3, 20, 17, tzinfo=UTC)
    assert local_when(moment, "America/Los_Angeles", "en") == "Mar 20 10:00"
    assert local_when(moment, "America/Los_Angeles", "es") == "20/03 10:00"


def test_the_clinic_words_its_answers_in_its_templates(tmp_path: Path) -> None:
    target = tmp_path / "en" / "replies" / "help.sms.j2"
    target.parent.mkdir(parents=True)
    target.write_text("Call {{ clinic.phone }} any time. STOP ends texts.")
    assert reply(make_environment(tmp_path), CLINIC, "help", "es") == (
        f"Call {CLINIC.phone} any time. STOP ends texts."
    )
