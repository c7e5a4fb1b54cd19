"""The Jinja2 environment for clinic templates: sandboxed, strict, autoescaped where HTML.

Clinic staff edit templates, so they run in Jinja's immutable sandbox with budgets (sandbox.py);
`StrictUndefined` turns a missing variable into an error instead of "Hello ,".
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined

from engage.rendering.sandbox import ClinicSandbox

SMS = "sms"
EMAIL_VARIANTS = ("subject", "html", "txt")
VARIANTS = {"sms": ("sms",), "email": EMAIL_VARIANTS}


def make_environment(templates_dir: Path | str) -> ClinicSandbox:
    """A sandboxed environment rooted at `templates_dir` (which holds one folder per locale)."""
    return ClinicSandbox(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def template_path(locale: str, name: str, variant: str) -> str:
    """The loader path of one variant: `es/post-infusion/discharge.sms.j2`."""
    return f"{locale}/{name}.{variant}.j2"


def variants_for(channel: str) -> tuple[str, ...]:
    return VARIANTS[channel]
