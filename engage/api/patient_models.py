"""Patients as the API reads and writes them, validated at the edge like a CSV row.

Phones become E.164 and emails are normalised with the importer's own rules, so a patient
created here and the same patient in a CSV match. Consent is not part of these bodies: it
changes only through the explicit consent route, with its source and notice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from engage.api.params import RequestBody
from engage.patients.rows import normalize_email, normalize_phone
from engage.schedule.models import check_zone
from engage.store.patients import Consent, ConsentEvent, Patient

Name = Annotated[str, Field(min_length=1, max_length=100)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(normalize_phone)]
Email = Annotated[str, Field(max_length=254), AfterValidator(normalize_email)]
Zone = Annotated[str, Field(max_length=64), AfterValidator(check_zone)]
Locale = Literal["en", "es"]
Channel = Literal["sms", "email"]


class PatientCreate(RequestBody):
    first_name: Name
    last_name: Name
    phone: Phone | None = Field(default=None, examples=["+14155550123"])
    email: Email | None = Field(default=None, examples=["ana@example.org"])
    timezone: Zone = Field(examples=["America/Los_Angeles"])
    locale: Locale = "en"
    preferred_channel: Channel | None = None
    external_ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class PatientUpdate(RequestBody):
    """Only the fields present change; `null` clears phone, email or external_ref."""

    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    timezone: Zone | None = None
    locale: Locale | None = None
    preferred_channel: Channel | None = None
    external_ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class ConsentChange(RequestBody):
    """An explicit consent decision of the patient, and how the clinic learned of it."""

    granted: bool
    source: str = Field(
        min_length=1, max_length=32, examples=["intake-form", "phone-call", "front-desk"]
    )
    notice: str = Field(
        default="",
        max_length=200,
        description="The version of the 'SMS and email are not encrypted' notice the patient "
        "acknowledged; required when granting.",
        examples=["unencrypted-notice-v1"],
    )
    reason: str = Field(
        default="",
        max_length=200,
        description="Why the clinic records new express consent (e.g. 'patient asked at the "
        "front desk to receive texts again'); required to re-open a channel the patient closed "
        "themselves (STOP, unsubscribe, bounce, spam report).",
    )


class ConsentOut(BaseModel):
    channel: str
    granted: bool
    changed_at: datetime
    source: str
    notice: str

    @classmethod
    def of(cls, consent: Consent) -> ConsentOut:
        return cls(
            channel=consent.channel,
            granted=consent.granted,
            changed_at=consent.changed_at,
            source=consent.source,
            notice=consent.notice,
        )


class ConsentEventOut(BaseModel):
    """One entry of the append-only consent ledger."""

    channel: str
    granted: bool
    at: datetime
    source: str
    actor: str
    origin: str
    notice: str
    reason: str

    @classmethod
    def of(cls, event: ConsentEvent) -> ConsentEventOut:
        return cls(
            channel=event.channel,
            granted=event.granted,
            at=event.at,
            source=event.source,
            actor=event.actor,
            origin=event.origin,
            notice=event.notice,
            reason=event.reason,
        )


class PatientOut(BaseModel):
    id: int
    external_ref: str | None
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    timezone: str
    locale: str
    preferred_channel: str
    course_completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    consents: list[ConsentOut]

    @classmethod
    def of(cls, patient: Patient) -> PatientOut:
        return cls(
            id=patient.id,
            external_ref=patient.external_ref,
            first_name=patient.first_name,
            last_name=patient.last_name,
            phone=patient.phone,
            email=patient.email,
            timezone=patient.timezone,
            locale=patient.locale,
            preferred_channel=patient.preferred_channel,
            course_completed_at=patient.course_completed_at,
            created_at=patient.created_at,
            updated_at=patient.updated_at,
            consents=[ConsentOut.of(c) for c in patient.consents],
        )
