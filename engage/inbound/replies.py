"""What engage answers to a keyword by SMS, in the patient's language.

Short, plain and GSM-7 only (one segment where possible): carriers require the STOP and HELP
answers, and every character is paid for. The words are the clinic's, in
`templates/<locale>/replies/`; the clinic's name and phone come from schedules.yaml.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engage.rendering.render import render_sms
from engage.schedule.models import Clinic

REPLIES = ("stop", "start", "help", "confirmed", "nothing")


def reply(env: Any, clinic: Clinic, kind: str, locale: str, *, when: str = "") -> str:
    """Render `templates/<locale>/replies/<kind>.sms.j2` (falling back to English)."""
    context = {
        "clinic": {
            "name": clinic.name,
            "sms_name": str(clinic.settings.get("sms_name") or clinic.name),
            "phone": clinic.phone,
            "settings": dict(clinic.settings),
        },
        "when": when,
    }
    return render_sms(env, f"replies/{kind}", locale, context).body


def local_when(moment: datetime, timezone: str, locale: str) -> str:
    """A short local date and time, e.g. "Mar 14 10:00" (24-hour clocks are read everywhere)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%d/%m %H:%M" if locale == "es" else "%b %d %H:%M")
