"""Turn one outbox row into the `Outgoing` a channel sends: context, templates, attachments.

The template, the attachments and the anchor all come from `step`, the schedule's step as the
sender resolved it once (engage.delivery.prepare): one source for everything a message says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engage.channels.base import Attachment, Outgoing
from engage.consent.unsubscribe_tokens import url as unsubscribe_url
from engage.errors import TemplateProblem
from engage.rendering.calendar import appointment_ics
from engage.rendering.context import AppointmentFacts, patient_context, patient_locale
from engage.rendering.render import render_email, render_sms
from engage.schedule.models import Schedule, Step
from engage.store.appointments import Appointment
from engage.store.messages import Message
from engage.store.patients import Patient


@dataclass(frozen=True)
class Composer:
    """Renders outbox rows with what a worker process loaded once: the schedule, the templates
    and the link signing; the preparer hands it the message, its step, patient and channel."""

    schedule: Schedule
    env: Any  # the sandboxed Jinja2 environment
    public_url: str
    signing_secret: str

    def __call__(
        self,
        message: Message,
        step: Step,
        patient: Patient,
        channel: str,
        appointment: Appointment | None,
    ) -> Outgoing:
        """Render `message` for `patient` on `channel`; raise TemplateProblem if it cannot be."""
        address = patient.address(channel)
        if not address:
            raise TemplateProblem(
                f"message {message.id}: patient {patient.id} has no {channel} address"
            )
        locale = patient_locale(self.schedule.clinic, patient)
        unsubscribe = unsubscribe_url(self.public_url, message.id, self.signing_secret)
        facts = (
            AppointmentFacts(
                appointment.starts_at, number=message.occurrence, location=appointment.location
            )
            if appointment is not None
            else None
        )
        context = patient_context(
            self.schedule.clinic,
            patient,
            channel=channel,
            anchor=step.anchor,
            appointment=facts,
            unsubscribe_url=unsubscribe,
        )
        if channel == "sms":
            sms = render_sms(self.env, step.template, locale, context)
            return Outgoing(message.id, "sms", address, sms.body)
        email = render_email(self.env, step.template, locale, context)
        return Outgoing(
            message.id,
            "email",
            address,
            email.text,
            subject=email.subject,
            html=email.html,
            attachments=_attachments(self.schedule, step, appointment),
            unsubscribe_url=unsubscribe,
        )


def _attachments(
    schedule: Schedule, step: Step, appointment: Appointment | None
) -> tuple[Attachment, ...]:
    if "calendar" not in step.attach or appointment is None:
        return ()
    ics = appointment_ics(
        uid=f"appointment-{appointment.id}@engage",
        summary=schedule.clinic.name,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        location=appointment.location or schedule.clinic.address,
        organizer_name=f"{schedule.clinic.name} {schedule.clinic.phone}",
    )
    return (Attachment("appointment.ics", "text/calendar", ics),)
