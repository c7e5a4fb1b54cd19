"""The precedence rules alone: who may reverse a patient's own opt-out, and stale events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engage.consent.precedence import PATIENT_OPT_OUTS, Current, Origin, judge

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("source", sorted(PATIENT_OPT_OUTS))
@pytest.mark.parametrize("origin", [Origin.STAFF, Origin.IMPORT, Origin.FEED, Origin.SYSTEM])
def test_only_the_patient_or_express_consent_reverses_an_opt_out(
    source: str, origin: Origin
) -> None:
    held = Current(False, source, AT)
    refused = judge(held, granted=True, origin=origin)
    assert not refused.apply and refused.reason.startswith("kept opted out: ")
    assert refused.reason.endswith("on 2026-12-01")
    assert judge(held, granted=True, origin=Origin.PATIENT).apply
    assert judge(held, granted=True, origin=Origin.EXPRESS).apply


def test_a_staff_closed_channel_is_not_held() -> None:
    assert judge(Current(False, "phone-call", AT), granted=True, origin=Origin.IMPORT).apply


def test_an_older_event_never_overrides_a_newer_decision() -> None:
    stop = Current(False, "sms-stop", AT)
    older = AT - timedelta(minutes=5)
    assert not judge(stop, granted=True, origin=Origin.PATIENT, occurred_at=older).apply
    assert judge(stop, granted=True, origin=Origin.PATIENT, occurred_at=AT + timedelta(1)).apply
