"""The `.ics` attachment for appointment emails (RFC 5545 via icalendar)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event


def appointment_ics(
    *,
    uid: str,
    summary: str,
    starts_at: datetime,
    ends_at: datetime | None,
    location: str,
    organizer_name: str,
) -> bytes:
    """One VEVENT; times in UTC so every calendar shows the patient's own local time."""
    cal = Calendar()
    cal.add("prodid", "-//engage//appointment//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", (ends_at or starts_at + timedelta(minutes=45)).astimezone(UTC))
    if location:
        event.add("location", location)
    event.add("description", organizer_name)
    cal.add_component(event)
    return bytes(cal.to_ical())
