"""The text of a stored message as the patient gets (or got) it, rendered from its template.

Bodies are never stored (they are PHI in the outbox); a sent message is re-rendered with the facts
it was sent with, a pending one with the facts it will be sent with. Same context as a real send
(engage.delivery.compose) minus the signed unsubscribe link, which only a send mints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engage.errors import TemplateProblem
from engage.rendering.context import AppointmentFacts, patient_context, patient_locale
from engage.rendering.render import render_email, render_sms
from engage.schedule.models import Schedule
from engage.store.messages import Message
from engage.store.patients import Patient


@dataclass(frozen=True)
class Text:
    """A message's words: subject (email), body, SMS segments; or why it cannot be rendered."""

    subject: str = ""
    body: str = ""
    segments: int | None = None
    problem: str = ""


def render_text(
    schedule: Schedule,
    env: Any,
    message: Message,
    patient: Patient,
    appointment: AppointmentFacts | None,
    channel: str,
) -> Text:
    locale = patient_locale(schedule.clinic, patient)
    try:
        anchor = schedule.sequence(message.sequence).step(message.step_id).anchor
    except KeyError:
        return Text(
            problem=f"step {message.sequence}/{message.step_id} is no longer in the schedule"
        )
    context = patient_context(
        schedule.clinic, patient, channel=channel, anchor=anchor, appointment=appointment
    )
    try:
        if channel == "sms":
            sms = render_sms(env, message.template, locale, context)
            return Text(body=sms.body, segments=sms.segments.segments)
        email = render_email(env, message.template, locale, context)
        return Text(subject=email.subject, body=email.text)
    except TemplateProblem as exc:
        return Text(problem=str(exc))
