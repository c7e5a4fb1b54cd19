"""How much a request may carry, per route, before anything reads or parses it.

Sizes follow what the callers really send: SendGrid batches events for up to 30 seconds into one
POST (well under a megabyte in its documentation), Twilio posts a form of a few kilobytes (an
SMS body is at most 1,600 characters), a CSV import of a whole clinic is a few megabytes.
docs/deploy.md gives the matching proxy limits (nginx `client_max_body_size` and friends).
"""

from __future__ import annotations

from dataclasses import dataclass

KIB, MIB = 1024, 1024 * 1024
MAX_HEADER_BYTES = 16 * KIB  # all header names and values together (431 beyond)
MAX_HEADER_VALUE = 8 * KIB  # any one header value (431 beyond)
DEFAULT_BODY = 256 * KIB  # JSON of the staff API


@dataclass(frozen=True)
class BodyLimit:
    prefix: str
    max_bytes: int


# First match wins; the longest prefixes come first.
BODY_LIMITS: tuple[BodyLimit, ...] = (
    BodyLimit("/webhooks/sendgrid/", 4 * MIB),  # a 30-second batch, with room to spare
    BodyLimit("/webhooks/twilio/", 64 * KIB),
    BodyLimit("/unsubscribe/", 4 * KIB),  # `List-Unsubscribe=One-Click`, nothing more
    BodyLimit("/imports/", 16 * MIB),  # a CSV of tens of thousands of patients
    BodyLimit("/console/import", 16 * MIB),
    BodyLimit("/console/", 64 * KIB),  # form posts
)


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may have."""
    for limit in BODY_LIMITS:
        if path.startswith(limit.prefix):
            return limit.max_bytes
    return DEFAULT_BODY


def header_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why these headers are refused (431), or None."""
    total = 0
    for name, value in headers:
        if len(value) > MAX_HEADER_VALUE:
            return f"header {name.decode('latin-1')[:64]} is over {MAX_HEADER_VALUE} bytes"
        total += len(name) + len(value)
    if total > MAX_HEADER_BYTES:
        return f"headers are over {MAX_HEADER_BYTES} bytes in all"
    return None
