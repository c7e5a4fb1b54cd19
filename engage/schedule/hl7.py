"""The `hl7:` section of schedules.yaml: how a clinic's EHR feed maps onto engage.

Which appointments are infusions (by the type the EHR gives, optionally at which location) and
which sequences the first such booking starts is the clinic's knowledge, so it lives beside the
sequences, is validated with them (`engage validate`), and no code names a clinic's codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# PID-15 codes (ISO 639 two- and three-letter, and spelled-out names) read as engage locales.
Locale = Literal["en", "es"]
DEFAULT_LANGUAGES: dict[str, Locale] = {
    "en": "en",
    "eng": "en",
    "english": "en",
    "es": "es",
    "spa": "es",
    "spanish": "es",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hl7Infusion(_Frozen):
    """Appointments of `type` (SCH-7 or AIS-3 identifier), at `location` (AIL-3) if given."""

    type: str = Field(min_length=1)
    location: str | None = None
    sequences: tuple[str, ...] = ()  # enrolled on the patient's first such booking

    def matches(self, types: Iterable[str], locations: Iterable[str]) -> bool:
        wanted = self.type.casefold()
        if not any(code.casefold() == wanted for code in types if code):
            return False
        if self.location is None:
            return True
        place = self.location.casefold()
        return any(code.casefold() == place for code in locations if code)


_FIELD = re.compile(r"^[A-Z][A-Z0-9]{2}-\d{1,3}(\.\d{1,2})?$")


class Hl7Consent(_Frozen):
    """Where the clinic's EHR records a patient's express consent to one channel.

    `field` is `SEG-N` or `SEG-N.C` (e.g. `ZPD-2`, `PD1-12`); a value in `values` means the
    patient consented. Only a channel the patient has no consent record for is granted: an
    opt-out (or any earlier decision) is never overwritten by the feed.
    """

    field: str
    values: tuple[str, ...] = ("Y",)

    @field_validator("field")
    @classmethod
    def _field_shape(cls, value: str) -> str:
        if not _FIELD.match(value):
            raise ValueError(f"bad field {value!r}: expected SEG-N or SEG-N.C, e.g. ZPD-2")
        return value


class Hl7Feed(_Frozen):
    """The clinic's HL7 v2 feed: identity, phone region, languages and the infusion types."""

    # Which PID-3 repetition is the patient's identity: the one whose assigning authority
    # (CX-4) is this; empty means the first repetition.
    identifier_authority: str = ""
    # How a phone without +country code is read; empty means the clinic phone's region.
    phone_region: str = ""
    languages: dict[str, Locale] = Field(default_factory=lambda: dict(DEFAULT_LANGUAGES))
    # A no-show (SIU^S26): "cancel" withdraws its unsent messages (post-infusion safety texts
    # for an infusion that never happened); "keep" leaves them as they are.
    no_show: Literal["cancel", "keep"] = "cancel"
    infusions: tuple[Hl7Infusion, ...] = ()
    # No entry, no consent from the feed (the default): consent is then staff's or the patient's.
    consent: dict[Literal["sms", "email"], Hl7Consent] = Field(default_factory=dict)

    @field_validator("languages")
    @classmethod
    def _lower_keys(cls, value: dict[str, Locale]) -> dict[str, Locale]:
        return {key.casefold(): locale for key, locale in value.items()}

    def infusion(self, types: Iterable[str], locations: Iterable[str]) -> Hl7Infusion | None:
        """The first rule an appointment of these type and location codes matches, if any."""
        types, locations = list(types), list(locations)
        return next((rule for rule in self.infusions if rule.matches(types, locations)), None)
