"""Keyword answers are short, GSM-7 and one segment in both languages, and quote the clinic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engage.api.sms_replies import local_when, reply
from engage.rendering.segments import count_segments, is_gsm7
from engage.schedule.loader import load_schedule

CLINIC = load_schedule(Path(__file__).resolve().parents[2] / "schedules.yaml").clinic


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("kind", ["stop", "start", "help", "confirmed", "nothing"])
def test_each_answer_is_one_gsm7_segment(kind: str, locale: str) -> None:
    text = reply(
        CLINIC,
        kind,
        locale,
        when=local_when(datetime(2027, 3, 20, 17, tzinfo=UTC), "America/Los_Angeles", locale),
    )
    assert is_gsm7(text) and count_segments(text).segments == 1, text


def test_help_names_the_clinic_its_phone_and_how_to_stop() -> None:
    text = reply(CLINIC, "help", "en")
    assert CLINIC.settings["sms_name"] in text and CLINIC.phone in text and "STOP" in text


def test_an_unknown_locale_answers_in_english() -> None:
    assert reply(CLINIC, "stop", "fr") == reply(CLINIC, "stop", "en")


def test_local_when_reads_the_patients_clock() -> None:
    moment = datetime(2027, 3, 20, 17, tzinfo=UTC)
    assert local_when(moment, "America/Los_Angeles", "en") == "Mar 20 10:00"
    assert local_when(moment, "America/Los_Angeles", "es") == "20/03 10:00"
