"""Clinical review markers: the first line of each template says who approved it, and when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_APPROVED = re.compile(
    r'^\{#-?\s*review:\s*approved by\s+"(?P<who>[^"]+)"\s+on\s+(?P<when>\d{4}-\d{2}-\d{2})\s*-?#\}'
)
_PENDING = re.compile(r"^\{#-?\s*review:\s*pending\s*-?#\}")


@dataclass(frozen=True)
class Review:
    """Whether a template file is clinically approved; `None` fields when pending."""

    approved_by: str | None = None
    approved_on: date | None = None

    @property
    def approved(self) -> bool:
        return self.approved_by is not None


def read_review(source: str) -> Review | None:
    """The file's review marker, a pending Review, or None when the marker is missing/garbled."""
    first = source.lstrip("\ufeff").splitlines()[0] if source.strip() else ""
    if match := _APPROVED.match(first):
        try:
            return Review(match["who"], date.fromisoformat(match["when"]))
        except ValueError:
            return None
    if _PENDING.match(first):
        return Review()
    return None
