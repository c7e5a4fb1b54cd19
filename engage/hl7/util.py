"""Small helpers the feed's modules share."""

from __future__ import annotations

import uuid


def control_id() -> str:
    """A fresh MSH-10 for an ACK engage sends (unique without coordination)."""
    return uuid.uuid4().hex[:20].upper()


def decode(raw: bytes) -> str:
    """HL7 v2 is ASCII by default; EHRs send UTF-8 or Latin-1. Latin-1 never fails."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
