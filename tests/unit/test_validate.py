"""`engage validate`: each class of planted error is named at its YAML line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engage.cli.main import app
from engage.rendering.validate import validate

GOOD = """\
clinic:
  name: Sample Clinic
  phone: "+14155550123"
  timezone: America/Los_Angeles
  website: https://clinic.example.org
  locales: [en, es]
sequences:
  education:
    steps:
      - id: welcome
        anchor: enrolled
        offset: "+0m"
        at: "10:00"
        channels: [sms, email]
        template: education/welcome
      - id: prep
        anchor: infusion.start
        offset: "-1d"
        at: "17:00"
        channels: [sms]
        template: prep
"""

TEMPLATES = {
    "education/welcome.sms.j2": "{#- review: pending -#}\nHi {{ patient.first_name }}, {{ clinic.name }}. Reply STOP to opt out.",
    "education/welcome.subject.j2": "{#- review: pending -#}\nWelcome",
    "education/welcome.html.j2": "{#- review: pending -#}\n<p>Hi {{ patient.first_name }}</p>",
    "education/welcome.txt.j2": "{#- review: pending -#}\nHi {{ patient.first_name }}",
    "prep.sms.j2": '{#- review: approved by "Dr. Roe" on 2026-11-20 -#}\nSee you {{ appointment.date }}. Reply STOP to opt out.',
}


def make_project(tmp_path: Path, schedule: str = GOOD, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "schedules.yaml").write_text(schedule)
    for locale in ("en", "es"):
        for name, source in (files or TEMPLATES).items():
            target = tmp_path / "templates" / locale / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source)
    return tmp_path / "schedules.yaml"


def problems(
    tmp_path: Path, schedule: str = GOOD, files: dict[str, str] | None = None
) -> list[str]:
    path = make_project(tmp_path, schedule, files)
    return [str(p) for p in validate(path, tmp_path / "templates").problems]


def test_sound_schedule_passes_and_warns_only_about_review(tmp_path: Path) -> None:
    path = make_project(tmp_path)
    report = validate(path, tmp_path / "templates")
    assert report.ok, report.problems
    assert "2 steps" in report.summary
    assert any("awaiting clinical review" in w and "welcome.sms.j2" in w for w in report.warnings)
    assert not any("prep.sms.j2" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("old", "new", "line", "col", "fragment"),
    [
        (
            '        at: "10:00"\n',
            '        at: "10:00"\n        colour: blue\n',
            14,
            9,
            "unknown key 'colour'",
        ),
        ('offset: "-1d"', 'offset: "-1x"', 18, 17, "bad offset '-1x'"),
        ('at: "17:00"', 'at: "25:00"', 19, 13, "bad time '25:00'"),
        ("channels: [sms]\n", "channels: [fax]\n", 20, 19, "unknown channel 'fax'"),
        (
            "anchor: infusion.start",
            "anchor: infusion.begin",
            17,
            17,
            "unknown anchor 'infusion.begin'",
        ),
        ("- id: prep", "- id: welcome", 16, 13, "duplicate step id 'welcome'"),
        (
            "America/Los_Angeles",
            "America/Springfield",
            4,
            13,
            "unknown time zone 'America/Springfield'",
        ),
    ],
)
def test_schedule_errors_are_named_at_their_yaml_position(
    tmp_path: Path, old: str, new: str, line: int, col: int, fragment: str
) -> None:
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new))
    assert any(
        p.startswith(f"{tmp_path}/schedules.yaml:{line}:{col}: ") and fragment in p for p in found
    ), found


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("    steps:\n", "    steps: [\n", 1))
    assert len(found) == 1 and ":10:7: " in found[0] and "YAML syntax error" in found[0]


def test_missing_template_file_for_a_locale(tmp_path: Path) -> None:
    path = make_project(tmp_path)
    (tmp_path / "templates/es/prep.sms.j2").unlink()
    found = [str(p) for p in validate(path, tmp_path / "templates").problems]
    assert found == [
        f"{path}:21:19: step 'prep': template 'prep': missing sms file {tmp_path}/templates/es/prep.sms.j2"
    ]


def test_template_syntax_error_names_template_line(tmp_path: Path) -> None:
    files = dict(TEMPLATES, **{"prep.sms.j2": "{#- review: pending -#}\nHi\n{% if x %}unclosed"})
    found = problems(tmp_path, files=files)
    assert found and all(":21:19: " in p and "prep.sms.j2:3: syntax error" in p for p in found)


def test_variable_the_context_does_not_provide(tmp_path: Path) -> None:
    files = dict(
        TEMPLATES, **{"education/welcome.sms.j2": "Hi {{ appointment.date }} {{ nurse }}. STOP"}
    )
    found = problems(tmp_path, files=files)
    assert any(
        ":15:19: " in p and "'appointment', 'nurse'" in p and "anchor 'enrolled'" in p
        for p in found
    ), found


def test_attribute_the_context_does_not_provide(tmp_path: Path) -> None:
    files = dict(TEMPLATES, **{"prep.sms.j2": "Hi {{ patient.last_name }}. STOP"})
    found = problems(tmp_path, files=files)
    assert any(":21:19: " in p and "last_name" in p for p in found), found


def test_sms_over_its_segment_budget(tmp_path: Path) -> None:
    files = dict(TEMPLATES, **{"prep.sms.j2": "word " * 70 + "STOP"})
    found = problems(tmp_path, files=files)
    assert any("3 SMS segments (GSM-7" in p and "over the en budget of 2" in p for p in found), (
        found
    )


def test_curly_quotes_force_ucs2_needlessly(tmp_path: Path) -> None:
    files = dict(TEMPLATES, **{"prep.sms.j2": "It\u2019s tomorrow. Reply STOP to opt out."})
    found = problems(tmp_path, files=files)
    assert any("force UCS-2 needlessly: U+2019" in p for p in found), found


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    path = make_project(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(path)])
    assert ok.exit_code == 0 and ok.stdout.strip().endswith(": OK")
    path.write_text(GOOD.replace('offset: "-1d"', 'offset: "soon"'))
    bad = runner.invoke(app, ["validate", str(path)])
    assert bad.exit_code == 1
    assert (
        f"{path}:18:17: sequence 'education' step 'prep': offset: bad offset 'soon'" in bad.stdout
    )
