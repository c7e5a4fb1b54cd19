"""A clinic template can neither change what later messages say, nor crash or hang what
renders it (issue 14 item 7)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engage.cli.main import app
from engage.demo.course import run_demo
from engage.errors import TemplateProblem
from engage.rendering.context import build_context
from engage.rendering.environment import make_environment
from engage.rendering.render import render_sms
from engage.schedule.loader import load_schedule
from tests.unit.test_validate import TEMPLATES, problems

ROOT = Path(__file__).resolve().parents[2]


def render(tmp_path: Path, source: str, **settings: object) -> str:
    (tmp_path / "en").mkdir(exist_ok=True)
    (tmp_path / "en" / "t.sms.j2").write_text(source)
    schedule = load_schedule(ROOT / "schedules.yaml")
    clinic = schedule.clinic.model_copy(update={"settings": settings or schedule.clinic.settings})
    context = build_context(
        clinic=clinic, first_name="Ana", locale="en", timezone="UTC", channel="sms", anchor="x"
    )
    return render_sms(make_environment(tmp_path), "t", "en", context).body


def test_a_template_cannot_mutate_the_shared_settings(tmp_path: Path) -> None:
    settings = {"medication_instructions": {"en": "Bring your list."}}
    attack = "{{ clinic.settings.medication_instructions.update({'en': 'PWNED'}) }}"
    with pytest.raises(TemplateProblem):
        render(tmp_path, attack, **settings)
    assert settings["medication_instructions"]["en"] == "Bring your list."
    later = render(tmp_path, "{{ clinic.settings.medication_instructions.en }}", **settings)
    assert later == "Bring your list."


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("line one\n{{ 1/0 }}", "t.sms.j2:2: ZeroDivisionError"),
        ("{{ '%s %s'|format('x') }}", "t.sms.j2:1: TypeError"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "loops",
        ),
        ("{{ 'x' * 1000000000 }}", "repeats"),
        ("{{ 10 ** 10 ** 10 }}", "too large"),
        ("{{ 'x'|center(1000000000) }}", "width"),
        ("{% for i in range(9999) %}{{ 'x' * 9999 }}{% endfor %}", "characters"),
    ],
)
def test_any_template_error_is_located_and_bounded(tmp_path: Path, source: str, says: str) -> None:
    with pytest.raises(TemplateProblem, match=says):
        render(tmp_path, source)


def test_validate_reports_a_runtime_error_at_its_path_and_line(tmp_path: Path) -> None:
    files = dict(TEMPLATES, **{"prep.sms.j2": "{#- review: pending -#}\nHi\n{{ 1/0 }} STOP"})
    found = problems(tmp_path, files=files)
    assert found and any("prep.sms.j2:3: ZeroDivisionError" in p for p in found), found


def test_engage_validate_prints_located_errors_not_a_traceback(tmp_path: Path) -> None:
    files = dict(TEMPLATES, **{"prep.sms.j2": "{{ '%s %s'|format('x') }} STOP"})
    problems(tmp_path, files=files)
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "schedules.yaml")])
    assert result.exit_code == 1
    assert "prep.sms.j2:1: TypeError" in result.output
    assert "Traceback" not in result.output


def test_demo_fails_only_the_broken_message_with_its_reason(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    for path in (ROOT / "templates").rglob("*.j2"):
        target = templates / path.relative_to(ROOT / "templates")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    broken = templates / "en" / "booster" / "due.sms.j2"
    broken.write_text(broken.read_text() + "\n{{ 1/0 }}")
    schedule = load_schedule(ROOT / "schedules.yaml")
    (tmp_path / "w").mkdir()
    sent = run_demo(schedule, templates, tmp_path / "w", start=datetime(2027, 1, 4, 15, tzinfo=UTC))
    failed = [s for s in sent if s.state == "failed"]
    assert failed and all(
        "due.sms.j2" in s.reason and "ZeroDivisionError" in s.reason for s in failed
    )
    assert any(s.state == "sent" for s in sent)
