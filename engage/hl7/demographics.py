"""A patient as ADT's PID segment states it: identity, name, phone, email and language.

Pure reading: PID-13 repetitions whose use code is NET or equipment type Internet / X.400 carry
the email (XTN-4); the others are phones (a cell phone, equipment CP, preferred), read as E.164
with the clinic's region. PID-15 maps to a locale through the clinic's language table.
"""

from __future__ import annotations

from dataclasses import dataclass

import hl7

from engage.errors import InvalidInput
from engage.hl7.fields import repetitions, value
from engage.hl7.identity import identifier
from engage.patients.rows import normalize_email, normalize_phone
from engage.schedule.hl7 import Hl7Feed

EMAIL_EQUIPMENT = ("internet", "x.400")
PHONE_PREFERENCE = ("cp", "ph", "")  # cellular first: SMS needs a mobile


@dataclass(frozen=True)
class Demographics:
    external_ref: str
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    locale: str | None  # None: PID-15 absent or not a language the clinic maps


def read_pid(pid: hl7.Segment, feed: Hl7Feed, region: str) -> Demographics:
    last, first = value(pid, 5, 1, 1), value(pid, 5, 1, 2)
    if not last or not first:
        raise InvalidInput("PID-5", "family name (PID-5.1) and given name (PID-5.2) are required")
    phones, emails = _contacts(pid)
    return Demographics(
        external_ref=identifier(pid, 3, feed.identifier_authority, "PID-3"),
        first_name=first[:100],
        last_name=last[:100],
        phone=_phone(phones, region),
        email=_email(emails),
        locale=feed.languages.get(value(pid, 15, 1, 1).casefold()),
    )


def _contacts(pid: hl7.Segment) -> tuple[list[tuple[str, str]], list[str]]:
    """(equipment type, number) of each phone and each email address in PID-13."""
    phones: list[tuple[str, str]] = []
    emails: list[str] = []
    for rep in range(1, repetitions(pid, 13) + 1):
        use, equipment = value(pid, 13, rep, 2).casefold(), value(pid, 13, rep, 3).casefold()
        if use == "net" or equipment in EMAIL_EQUIPMENT:
            address = value(pid, 13, rep, 4) or value(pid, 13, rep, 1)
            if address:
                emails.append(address)
            continue
        number = value(pid, 13, rep, 1) or _composed(pid, rep)
        if number:
            phones.append((equipment, number))
    return phones, emails


def _composed(pid: hl7.Segment, rep: int) -> str:
    """XTN-5 country, XTN-6 area and XTN-7 local number as one dialable text."""
    country, area, local = (value(pid, 13, rep, comp) for comp in (5, 6, 7))
    if not local:
        return ""
    return f"+{country}{area}{local}" if country else f"{area}{local}"


def _phone(phones: list[tuple[str, str]], region: str) -> str | None:
    for kind in PHONE_PREFERENCE:
        for equipment, number in phones:
            if equipment == kind or kind == "":
                try:
                    return normalize_phone(number, region)
                except ValueError:
                    raise InvalidInput(
                        "PID-13", f"a phone number is not valid for region {region}"
                    ) from None
    return None


def _email(emails: list[str]) -> str | None:
    if not emails:
        return None
    try:
        return normalize_email(emails[0])
    except ValueError:
        raise InvalidInput("PID-13", "the email address (XTN-4) is not valid") from None
