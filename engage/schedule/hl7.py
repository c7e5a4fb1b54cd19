"""The `hl7:` section of schedules.yaml: how a clinic's EHR feed maps onto engage.

Which appointments are infusions (by the type the EHR gives, optionally at which location) and
which sequences the first such booking starts is the clinic's knowledge, so it lives beside the
sequences, is validated with them (`engage validate`), and no code names a clinic's codes.
"""

from __future__ import annotations

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

    @field_validator("languages")
    @classmethod
    def _lower_keys(cls, value: dict[str, Locale]) -> dict[str, Locale]:
        return {key.casefold(): locale for key, locale in value.items()}

    def infusion(self, types: Iterable[str], locations: Iterable[str]) -> Hl7Infusion | None:
        """The first rule an appointment of these type and location codes matches, if any."""
        types, locations = list(types), list(locations)
        return next((rule for rule in self.infusions if rule.matches(types, locations)), None)
