"""ACK messages (original mode), built with python-hl7: AA, AE with an ERR segment, AR.

ERR carries the field that could not be applied (ERR-2, `PID^1^3`), an HL7 table 0357 code
(ERR-3), severity E (ERR-4) and the reason (ERR-8); MSA-3 repeats the reason for v2.3 senders.
Reasons name fields, never their values: an ACK is logged by interface engines.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import hl7

from engage.hl7.util import control_id

APPLICATION = "ENGAGE"
# HL7 table 0357 (message error condition codes).
CODES = {
    "unknown": ("204", "Unknown key identifier"),
    "field": ("102", "Data type error"),
    "missing": ("101", "Required field missing"),
    "conflict": ("205", "Duplicate key identifier"),
    "internal": ("207", "Application internal error"),
}
_FIELD = re.compile(r"^([A-Z][A-Z0-9]{2})-(\d+)")


def accept(message: hl7.Message) -> str:
    return _ack(message, "AA", "")


def error(message: hl7.Message, reason: str, kind: str) -> str:
    """AE: valid HL7 engage cannot apply; `kind` picks the table 0357 code."""
    return _ack(message, "AE", reason, kind)


def reject(reason: str) -> str:
    """AR for bytes that are not HL7: there is no MSH to answer, so a minimal one."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    code, text = CODES["internal"]
    return (
        f"MSH|^~\\&|{APPLICATION}||||{stamp}||ACK|{control_id()}|P|2.5\r"
        f"MSA|AR||{_plain(reason)}\r"
        f"ERR|||{code}^{text}^HL70357|E||||{_plain(reason)}\r"
    )


def _ack(message: hl7.Message, code: str, reason: str, kind: str = "") -> str:
    ack = message.create_ack(code, message_id=control_id())
    if reason:
        ack.segment("MSA").assign_field(_plain(reason), 3)
    if code == "AE":
        ack.append(_err(message, reason, kind))
    return str(ack)


def _err(message: hl7.Message, reason: str, kind: str) -> hl7.Segment:
    err = message.create_segment([message.create_field(["ERR"])])
    found = _FIELD.match(reason)
    if found:
        err.assign_field(found.group(1), 2, 1, 1)
        err.assign_field("1", 2, 1, 2)
        err.assign_field(found.group(2), 2, 1, 3)
    number, text = CODES.get(kind, CODES["internal"])
    err.assign_field(number, 3, 1, 1)
    err.assign_field(text, 3, 1, 2)
    err.assign_field("HL70357", 3, 1, 3)
    err.assign_field("E", 4)
    err.assign_field(_plain(reason), 8)
    return err


def _plain(text: str) -> str:
    """Reason text without HL7 delimiters (they would split the field)."""
    return re.sub(r"[|^~\\&\r\n]", " ", text)[:200]
