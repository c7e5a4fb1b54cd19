"""Every template of a sequence rendered with sample data, per locale and channel, for review.

What a clinician or the front desk checks before a message goes out: the text itself, SMS
segments and encoding (and the first character that forced UCS-2, which halves the characters
a segment holds), and whether the file carries a clinical approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engage.errors import TemplateProblem
from engage.rendering.context import sample_context
from engage.rendering.environment import template_path
from engage.rendering.render import render_email, render_sms
from engage.rendering.review import Review, read_review
from engage.rendering.segments import GSM7_BASIC, GSM7_EXTENSION, SegmentInfo
from engage.schedule.models import Schedule, Step


@dataclass(frozen=True)
class Rendered:
    """One template variant for one locale and channel."""

    step: Step
    locale: str
    channel: str
    subject: str
    body: str
    segments: SegmentInfo | None
    ucs2_forced_by: str  # the first non-GSM-7 character of an SMS, or ""
    review: Review | None  # None: the review marker is missing or garbled
    problem: str


def first_non_gsm7(text: str) -> str:
    return next((ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION), "")


def _review(templates_dir: Path, locale: str, name: str, channel: str) -> Review | None:
    variant = "sms" if channel == "sms" else "txt"
    path = templates_dir / template_path(locale, name, variant)
    if not path.exists():
        path = templates_dir / template_path("en", name, variant)
    return read_review(path.read_text()) if path.exists() else None


def render_one(
    schedule: Schedule, env: Any, templates_dir: Path, step: Step, locale: str, channel: str
) -> Rendered:
    context = sample_context(schedule, step.anchor, locale, channel)
    review = _review(templates_dir, locale, step.template, channel)
    try:
        if channel == "sms":
            sms = render_sms(env, step.template, locale, context)
            return Rendered(
                step,
                locale,
                channel,
                "",
                sms.body,
                sms.segments,
                first_non_gsm7(sms.body),
                review,
                "",
            )
        email = render_email(env, step.template, locale, context)
        return Rendered(step, locale, channel, email.subject, email.text, None, "", review, "")
    except TemplateProblem as exc:
        return Rendered(step, locale, channel, "", "", None, "", review, str(exc))


def catalogue(schedule: Schedule, env: Any, templates_dir: Path, sequence: str) -> list[Rendered]:
    """Every step of `sequence`, in each clinic locale and on each of its channels."""
    found = []
    for step in schedule.sequence(sequence).steps:
        for locale in schedule.clinic.locales:
            for channel in step.channels:
                found.append(render_one(schedule, env, templates_dir, step, locale, channel))
    return found
