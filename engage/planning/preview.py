"""What a patient would receive: planned messages rendered with their real context.

Shared by `engage simulate` and the API's preview endpoint; reads templates, touches no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jinja2.sandbox import SandboxedEnvironment

from engage.planning.planner import AnchorEvent, PlannedMessage, Recipient, plan
from engage.rendering.context import AppointmentFacts, build_context
from engage.rendering.render import render_email, render_sms
from engage.schedule.models import NOTICE_ANCHORS, Schedule, Sequence


@dataclass(frozen=True)
class PreviewItem:
    """One message as the patient would see it, with when and how."""

    planned: PlannedMessage
    due_local: datetime
    segments: int | None  # SMS only
    subject: str
    body: str
    html: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "step": self.planned.step_id,
            "channel": self.planned.channel,
            "template": self.planned.template,
            "due_local": self.due_local.isoformat(),
            "due_utc": self.planned.due_at.isoformat().replace("+00:00", "Z"),
            "critical": self.planned.critical,
            "segments": self.segments,
            "subject": self.subject,
            "body": self.body,
            "skip_reason": self.planned.skip_reason,
            "moved": self.planned.moved,
        }


def appointment_for(event_key: str, anchor: str, events: Iterable[AnchorEvent]) -> AppointmentFacts:
    """The appointment an infusion/consultation message speaks of: its start, number and place."""
    pool = list(events)
    if anchor in NOTICE_ANCHORS:  # `appointment:7:moved:2` speaks of appointment:7
        event_key, anchor = event_key.rsplit(":", 2)[0], "infusion.start"
    starts = [
        e for e in pool if e.name in ("infusion.start", "consultation") and e.key == event_key
    ]
    if starts:
        return AppointmentFacts(starts[0].at, number=starts[0].occurrence)
    match = [e for e in pool if e.key == event_key and e.name == anchor]
    if match and anchor == "infusion.end":
        return AppointmentFacts(match[0].at - timedelta(minutes=45), number=match[0].occurrence)
    if match:
        return AppointmentFacts(match[0].at, number=match[0].occurrence)
    raise KeyError(event_key)


def preview(
    *,
    schedule: Schedule,
    env: SandboxedEnvironment,
    sequence: Sequence,
    recipient: Recipient,
    events: list[AnchorEvent],
    locale: str,
    now: datetime,
    first_name: str = "Alex",
) -> list[PreviewItem]:
    zone = ZoneInfo(recipient.timezone)
    completed = next((e.at for e in events if e.name == "course.completed"), None)
    items = []
    for planned in plan(sequence, recipient, events, schedule.clinic.quiet_hours, now):
        appointment = (
            appointment_for(planned.event_key, planned.anchor, events)
            if planned.anchor in ("infusion.start", "infusion.end", "consultation", *NOTICE_ANCHORS)
            else None
        )
        context = build_context(
            clinic=schedule.clinic,
            first_name=first_name,
            locale=locale,
            timezone=recipient.timezone,
            channel=planned.channel,
            anchor=planned.anchor,
            unsubscribe_url=f"{schedule.clinic.website}/u/preview",
            appointment=appointment,
            course_completed_at=completed,
        )
        if planned.channel == "sms":
            sms = render_sms(env, planned.template, locale, context)
            item = PreviewItem(
                planned, planned.due_at.astimezone(zone), sms.segments.segments, "", sms.body
            )
        else:
            email = render_email(env, planned.template, locale, context)
            item = PreviewItem(
                planned,
                planned.due_at.astimezone(zone),
                None,
                email.subject,
                email.text,
                email.html,
            )
        items.append(item)
    return items
