"""One row of a patients CSV, validated at the edge: E.164 phone, normalised email, IANA zone.

Every problem names its field; `problems(exc)` turns pydantic's errors into `field: problem`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from engage.schedule.zones import check_zone
from engage.text.storable import text_problem

DEFAULT_REGION = "US"  # how a phone number without +country code is read
CONSENT_SOURCE = "csv-import"
_TRUE = {"yes", "y", "true", "t", "1"}
_FALSE = {"no", "n", "false", "f", "0", ""}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected yes/no, true/false or 1/0, not {value!r}")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Optional = Annotated[str | None, BeforeValidator(_blank_to_none)]
YesNo = Annotated[bool, BeforeValidator(_yes_no)]


class PatientRow(BaseModel):
    """A patient as a CSV row states it; the importer matches it to a stored patient."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    phone: Optional = None
    email: Optional = None
    timezone: str
    locale: Annotated[Literal["en", "es"], BeforeValidator(_lower)] = "en"
    preferred_channel: Annotated[
        Literal["sms", "email"] | None, BeforeValidator(_lower), BeforeValidator(_blank_to_none)
    ] = None
    sms_consent: YesNo = False
    email_consent: YesNo = False
    consent_source: Annotated[str, BeforeValidator(lambda v: v or CONSENT_SOURCE)] = Field(
        default=CONSENT_SOURCE, max_length=32
    )
    external_ref: Annotated[
        Annotated[str, StringConstraints(max_length=64)] | None, BeforeValidator(_blank_to_none)
    ] = None

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # A NUL in row 1,201 was a database error after 1,200 rows were written.
        if isinstance(value, str) and (problem := text_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _normalised(info, normalize_phone, value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _normalised(info, normalize_email, value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @model_validator(mode="after")
    def _reachable(self) -> PatientRow:
        if self.phone is None and self.email is None:
            raise ValueError("phone, email: a patient needs a phone or an email")
        if self.sms_consent and self.phone is None:
            raise ValueError("sms_consent: yes, but there is no phone")
        if self.email_consent and self.email is None:
            raise ValueError("email_consent: yes, but there is no email")
        if self.preferred_channel is not None and self.address(self.preferred_channel) is None:
            missing = "phone" if self.preferred_channel == "sms" else "email"
            raise ValueError(
                f"preferred_channel: {self.preferred_channel}, but there is no {missing}"
            )
        return self

    def address(self, channel: str) -> str | None:
        return self.phone if channel == "sms" else self.email

    @property
    def channel(self) -> str:
        """The preferred channel, or the one the patient can be reached on (SMS first)."""
        return self.preferred_channel or ("sms" if self.phone else "email")


class Normalised:
    """Phones and emails one import already normalised: `model_validate(cells, context=this)`.

    Parsing a phone number is most of a row's validation; a family's shared phone or email is
    parsed once per import. Per import, not per process (no contact data kept after it), and
    bounded, so memory stays flat however long the file.
    """

    LIMIT = 8192

    def __init__(self) -> None:
        self.found: dict[tuple[Callable[[str], str], str], tuple[str, bool]] = {}

    def get(self, normalize: Callable[[str], str], text: str) -> str:
        key = (normalize, text)
        if (known := self.found.get(key)) is None:
            try:
                known = (normalize(text), True)
            except ValueError as exc:
                known = (str(exc), False)
            if len(self.found) >= self.LIMIT:
                self.found.clear()
            self.found[key] = known
        value, valid = known
        if not valid:
            raise ValueError(value)
        return value


def _normalised(info: ValidationInfo, normalize: Callable[[str], str], text: str) -> str:
    if isinstance(info.context, Normalised):
        return info.context.get(normalize, text)
    return normalize(text)


def normalize_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of a phone number; ValueError (without echoing the number) when invalid."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def shown_phone(e164: str | None, region: str = DEFAULT_REGION) -> str:
    """A stored number as staff dial it: national for the clinic's country ("(415) 555-0199"),
    international for others ("+44 20 7946 0000"); what does not parse is shown as stored."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    national = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if national else style.INTERNATIONAL)


def normalize_email(text: str) -> str:
    """The normalised, lower-cased address, so that re-imports match whatever the case."""
    try:
        valid = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return valid.normalized.lower()


def problems(exc: PydanticValidationError) -> list[str]:
    """pydantic's errors as `field: problem` lines (a cross-field problem names its fields)."""
    lines = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing" or (
            error["type"] == "string_too_short" and error.get("ctx", {}).get("min_length") == 1
        ):
            message = "required"
        field = ".".join(str(part) for part in error["loc"])
        lines.append(f"{field}: {message}" if field else message)
    return lines
