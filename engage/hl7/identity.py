"""Who a message is about: PID-3's identifier (with its assigning authority) as `external_ref`."""

from __future__ import annotations

import hl7

from engage.errors import InvalidInput
from engage.hl7.fields import repetitions, value

MAX_REF = 64  # patient.external_ref


def external_ref(identifier: str, authority: str) -> str:
    """`AUTHORITY:ID` (just `ID` when the sender names no authority)."""
    ref = f"{authority}:{identifier}" if authority else identifier
    if len(ref) > MAX_REF:
        raise InvalidInput("PID-3", f"identifier longer than {MAX_REF} characters")
    return ref


def identifier(segment: hl7.Segment, field: int, authority: str, where: str) -> str:
    """The CX repetition of `field` whose assigning authority (CX-4) is `authority` (the first
    repetition when `authority` is empty), as an external_ref."""
    for rep in range(1, repetitions(segment, field) + 1):
        number, issuer = value(segment, field, rep, 1), value(segment, field, rep, 4)
        if number and (not authority or issuer.casefold() == authority.casefold()):
            return external_ref(number, issuer)
    wanted = f" with assigning authority {authority}" if authority else ""
    raise InvalidInput(where, f"no identifier{wanted}")
