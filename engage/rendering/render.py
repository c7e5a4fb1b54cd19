"""Render one message's variants for a channel and locale, falling back to `en`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from engage.errors import TemplateProblem
from engage.rendering.environment import template_path
from engage.rendering.sandbox import render_bounded
from engage.rendering.segments import SegmentInfo, count_segments

FALLBACK_LOCALE = "en"


@dataclass(frozen=True)
class RenderedSms:
    body: str
    segments: SegmentInfo


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def _render(
    env: SandboxedEnvironment, name: str, variant: str, locale: str, context: dict[str, Any]
) -> str:
    for candidate in dict.fromkeys((locale, FALLBACK_LOCALE)):
        path = template_path(candidate, name, variant)
        try:
            template = env.get_template(path)
        except TemplateNotFound:
            continue
        except JinjaTemplateError as exc:
            raise TemplateProblem(f"{path}: {exc}") from None
        return render_bounded(template, context).strip()
    raise TemplateProblem(f"template {name!r} has no {variant!r} variant for {locale!r} or 'en'")


def render_sms(
    env: SandboxedEnvironment, name: str, locale: str, context: dict[str, Any]
) -> RenderedSms:
    body = _render(env, name, "sms", locale, context)
    return RenderedSms(body, count_segments(body))


def render_email(
    env: SandboxedEnvironment, name: str, locale: str, context: dict[str, Any]
) -> RenderedEmail:
    subject = " ".join(_render(env, name, "subject", locale, context).split())
    return RenderedEmail(
        subject=subject,
        html=_render(env, name, "html", locale, context),
        text=_render(env, name, "txt", locale, context),
    )
