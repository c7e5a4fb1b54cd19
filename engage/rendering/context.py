"""The message context templates see (documented in docs/templates.md).

Built from plain values so the same context feeds real sends, `engage simulate` and validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from engage.schedule.models import Clinic, Schedule

APPOINTMENT_ANCHORS = frozenset(
    {"consultation", "infusion.start", "infusion.end", "appointment.moved", "appointment.cancelled"}
)
COURSE_ANCHORS = frozenset({"course.completed"})


@dataclass(frozen=True)
class AppointmentFacts:
    """What a template may say about an appointment; times are aware."""

    starts_at: datetime
    number: int = 1
    location: str = ""


def _local_date(moment: datetime, zone: str, locale: str) -> str:
    return format_date(moment.astimezone(ZoneInfo(zone)).date(), format="full", locale=locale)


def _local_time(moment: datetime, zone: str, locale: str) -> str:
    # CLDR puts a narrow no-break space before AM/PM: one such character forces UCS-2 and
    # doubles an SMS's price, so it becomes a plain space.
    text = format_time(moment.astimezone(ZoneInfo(zone)), format="short", locale=locale)
    return text.replace("\u202f", " ").replace("\xa0", " ")


def frozen(value: Any) -> Any:
    """A read-only copy: mappings become MappingProxyType, lists tuples, all the way down.

    The schedule's settings are shared by every message a process renders; the sandbox already
    refuses mutating methods, and this makes the refusal a property of the data as well.
    """
    if isinstance(value, Mapping):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    if isinstance(value, set | frozenset):
        return frozenset(frozen(item) for item in value)
    return value


def build_context(
    *,
    clinic: Clinic,
    first_name: str,
    locale: str,
    timezone: str,
    channel: str,
    anchor: str,
    unsubscribe_url: str = "",
    appointment: AppointmentFacts | None = None,
    course_completed_at: datetime | None = None,
) -> dict[str, Any]:
    """The variables one message's templates may use; keys absent here are validation errors."""
    details = str(clinic.settings.get("details_url", clinic.website))
    context: dict[str, Any] = {
        "patient": {"first_name": first_name, "locale": locale},
        "clinic": {
            "name": clinic.name,
            "phone": clinic.phone,
            "address": clinic.address,
            "website": clinic.website,
            "settings": frozen(clinic.settings),
        },
        "links": {"unsubscribe": unsubscribe_url or details, "details": details},
        "channel": channel,
    }
    if anchor in APPOINTMENT_ANCHORS and appointment is not None:
        context["appointment"] = {
            "date": _local_date(appointment.starts_at, timezone, locale),
            "time": _local_time(appointment.starts_at, timezone, locale),
            "number": appointment.number,
            "location": appointment.location or clinic.address,
        }
    if anchor in COURSE_ANCHORS and course_completed_at is not None:
        context["course"] = {"completed_date": _local_date(course_completed_at, timezone, locale)}
    return context


class Person(Protocol):
    """What a message's context reads of its patient (engage.store.patients.Patient is one)."""

    @property
    def first_name(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def course_completed_at(self) -> datetime | None: ...


def patient_locale(clinic: Clinic, patient: Person) -> str:
    """The patient's locale when the clinic writes in it, else English."""
    return patient.locale if patient.locale in clinic.locales else "en"


def patient_context(
    clinic: Clinic,
    patient: Person,
    *,
    channel: str,
    anchor: str,
    appointment: AppointmentFacts | None,
    unsubscribe_url: str = "",
) -> dict[str, Any]:
    """The context of one message to `patient`: the one a send renders with and the one the
    timeline re-renders a stored message with (which has no signed unsubscribe link)."""
    return build_context(
        clinic=clinic,
        first_name=patient.first_name,
        locale=patient_locale(clinic, patient),
        timezone=patient.timezone,
        channel=channel,
        anchor=anchor,
        unsubscribe_url=unsubscribe_url,
        appointment=appointment,
        course_completed_at=patient.course_completed_at,
    )


SAMPLE_FIRST_NAME = "Alexandrina"  # 11 letters: SMS budgets are checked with a long-ish name
SAMPLE_MOMENT = datetime(2027, 3, 12, 17, 0, tzinfo=ZoneInfo("UTC"))


def sample_context(schedule: Schedule, anchor: str, locale: str, channel: str) -> dict[str, Any]:
    """A realistic context for validating and previewing a step anchored to `anchor`."""
    clinic = schedule.clinic
    return build_context(
        clinic=clinic,
        first_name=SAMPLE_FIRST_NAME,
        locale=locale,
        timezone=clinic.timezone,
        channel=channel,
        anchor=anchor,
        unsubscribe_url=f"{clinic.website or 'https://clinic.example.org'}/u/sample-token",
        appointment=AppointmentFacts(SAMPLE_MOMENT, number=1),
        course_completed_at=SAMPLE_MOMENT,
    )
