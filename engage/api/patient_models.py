"""Patients as the API reads and writes them, validated at the edge like a CSV row.

Phones become E.164 and emails are normalised with the importer's own rules, so a patient
created here and the same patient in a CSV match. Consent is not part of these bodies: it
changes only through the explicit consent route, with its source and notice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engage.api.params import RequestBody
from engage.patients.rows import normalize_email, normalize_phone
from engage.schedule.zones import check_zone

Name = Annotated[str, Field(min_length=1, max_length=100)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(normalize_phone)]
Email = Annotated[str, Field(max_length=254), AfterValidator(normalize_email)]
Zone = Annotated[
    str,
    Field(
        max_length=64,
        description='An IANA zone name in any case, or its city alone ("Chicago"); the '
        "response holds the IANA name it was read as.",
    ),
    AfterValidator(check_zone),
]
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


class RowAnswer(BaseModel):
    """An answer read field by field from a stored row (and its related rows)."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, row: object) -> Self:
        return cls.model_validate(row)


class ConsentOut(RowAnswer):
    channel: str
    granted: bool
    changed_at: datetime
    source: str
    notice: str


class ConsentEventOut(RowAnswer):
    """One entry of the append-only consent ledger."""

    channel: str
    granted: bool
    at: datetime
    source: str
    actor: str
    origin: str
    notice: str
    reason: str


class PatientOut(RowAnswer):
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
