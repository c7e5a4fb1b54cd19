"""Reading HL7 v2 fields with python-hl7: positions in, plain values out.

Every problem raises InvalidInput naming the field (`PID-13`) and never quoting its value, since
values are PHI and reasons end up in logs, ACKs and the dead-letter list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import hl7
from hl7.datatypes import parse_datetime

from engage.errors import EngageError, InvalidInput
from engage.planning.localtime import resolve_local

_TS = re.compile(r"^\d{4}(\d{2}){0,5}(\.\d{1,4})?([+-]\d{4})?$")


class NotHl7(EngageError):
    """The bytes received are not an HL7 v2 message (answered AR, nothing stored)."""


@dataclass(frozen=True)
class Header:
    """What MSH says about a message: who sent it, its control id, its type and when."""

    sender: str  # MSH-3^MSH-4
    control_id: str  # MSH-10
    message_type: str  # "SIU^S12"
    sent_at: datetime | None  # MSH-7, as an instant


def parse(text: str) -> hl7.Message:
    """A python-hl7 message, or NotHl7 when the text is no HL7 v2 message with a control id."""
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r \x00")
    if not text.startswith("MSH") or len(text) < 8:
        raise NotHl7("does not begin with an MSH segment")
    try:
        message = hl7.parse(text)
        control_id = message.extract_field("MSH", 1, 10)
        kind = message.extract_field("MSH", 1, 9, 1, 1)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise NotHl7(f"unreadable MSH segment ({type(exc).__name__})") from None
    if not control_id or not kind:
        raise NotHl7("MSH-9 (message type) or MSH-10 (control id) is empty")
    return message


def value(segment: hl7.Segment, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """One leaf of `segment` (unescaped), "" when it is absent."""
    try:
        return str(segment.extract_field(1, field, rep, comp, sub)).strip()
    except IndexError:
        return ""


def repetitions(segment: hl7.Segment, field: int) -> int:
    """How many repetitions field `field` of `segment` has (0 when absent)."""
    if field >= len(segment):
        return 0
    item = segment[field]
    return len(item) if isinstance(item, list) else 1


def segment(message: hl7.Message, name: str) -> hl7.Segment | None:
    try:
        return message.segment(name)
    except KeyError:
        return None


def required(message: hl7.Message, name: str) -> hl7.Segment:
    found = segment(message, name)
    if found is None:
        raise InvalidInput(name, "segment missing")
    return found


def timestamp(text: str, where: str, zone: ZoneInfo) -> datetime | None:
    """An HL7 TS/DTM as an instant: an offset is honoured; without one it is `zone`'s wall time,
    read with engage's rule for skipped and repeated local times (planning.localtime)."""
    if not text:
        return None
    if not _TS.match(text):  # python-hl7 reads "2027031X" as 2027-03-01: check the shape first
        raise InvalidInput(where, "not an HL7 timestamp (YYYYMMDDHHMM[SS][+ZZZZ])")
    try:
        moment: datetime = parse_datetime(text)
    except (ValueError, TypeError):
        raise InvalidInput(where, "not an HL7 timestamp (YYYYMMDDHHMM[SS][+ZZZZ])") from None
    if moment.tzinfo is None:
        return resolve_local(moment, zone)
    return moment.astimezone(UTC)


def header(message: hl7.Message, zone: ZoneInfo) -> Header:
    msh = message.segment("MSH")
    kind, event = value(msh, 9, 1, 1), value(msh, 9, 1, 2)
    sender = f"{value(msh, 3)}^{value(msh, 4)}"
    try:
        sent_at = timestamp(value(msh, 7), "MSH-7", zone)
    except InvalidInput:
        sent_at = None  # reported by the handler that needs it (SIU ordering)
    return Header(
        sender=sender[:200],
        control_id=value(msh, 10)[:200],
        message_type=f"{kind}^{event}"[:16] if event else kind[:16],
        sent_at=sent_at,
    )
