"""What engage answers to a keyword by SMS, in the patient's language.

Short, plain and GSM-7 only (one segment where possible): carriers require the STOP and HELP
answers, and every character is paid for. The clinic's name and phone come from schedules.yaml.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engage.schedule.models import Clinic

_TEXTS = {
    "en": {
        "stop": "{name}: you will get no more texts from us. Reply START to resume. Call {phone}.",
        "start": "{name}: texts are on again. Reply STOP to stop, HELP for help.",
        "help": "{name} appointment messages. Call {phone}. Reply STOP to stop texts.",
        "confirmed": "{name}: thank you, your appointment on {when} is confirmed.",
        "nothing": "{name}: we found no upcoming appointment to confirm. Call {phone}.",
    },
    "es": {
        "stop": "{name}: no recibira mas mensajes. Responda START para reanudar. Llame al {phone}.",
        "start": "{name}: los mensajes se reanudan. Responda STOP para parar, AYUDA para ayuda.",
        "help": "{name}: mensajes de citas. Llame al {phone}. Responda STOP para parar.",
        "confirmed": "{name}: gracias, su cita del {when} esta confirmada.",
        "nothing": "{name}: no hay una cita proxima que confirmar. Llame al {phone}.",
    },
}


def reply(clinic: Clinic, kind: str, locale: str, *, when: str = "") -> str:
    texts = _TEXTS.get(locale, _TEXTS["en"])
    name = str(clinic.settings.get("sms_name") or clinic.name)
    return texts[kind].format(name=name, phone=clinic.phone, when=when)


def local_when(moment: datetime, timezone: str, locale: str) -> str:
    """A short local date and time, e.g. "Mar 14 10:00" (24-hour clocks are read everywhere)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%d/%m %H:%M" if locale == "es" else "%b %d %H:%M")
