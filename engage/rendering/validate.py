"""`engage validate`: the schedule and every template it names, checked as a whole.

Template problems are reported at the step's `template:` position in the YAML (so one file is
the map of what to fix) or, for syntax errors, at the template's own line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from engage.errors import TemplateProblem
from engage.rendering.context import sample_context
from engage.rendering.environment import make_environment, template_path, variants_for
from engage.rendering.review import read_review
from engage.rendering.sandbox import render_bounded
from engage.rendering.segments import count_segments, needless_ucs2
from engage.schedule.loader import Problem, parse_schedule
from engage.schedule.models import Schedule, Step
from engage.schedule.yamlpos import Located


@dataclass
class Report:
    """What validation found: problems fail, warnings (e.g. unreviewed templates) do not."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: str = ""
    segments: dict[tuple[str, str], int] = field(default_factory=dict)  # (template, locale)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(schedule_path: Path, templates_dir: Path) -> Report:
    report = Report()
    try:
        text = schedule_path.read_text(encoding="utf-8")
    except OSError as exc:
        report.problems.append(Problem(str(schedule_path), 1, 1, f"cannot read: {exc.strerror}"))
        return report
    parsed = parse_schedule(text, str(schedule_path))
    report.problems.extend(parsed.problems)
    if parsed.schedule is None or parsed.located is None:
        return report
    checker = _TemplateChecker(
        parsed.schedule, parsed.located, str(schedule_path), templates_dir, report
    )
    checker.run()
    schedule = parsed.schedule
    steps = sum(len(s.steps) for s in schedule.sequences.values())
    pending = sum(1 for w in report.warnings if "clinical review" in w)
    report.summary = (
        f"{schedule_path}: {len(schedule.sequences)} sequences, {steps} steps, "
        f"{checker.files_checked} template files"
        + (f", {pending} awaiting clinical review" if pending else "")
    )
    return report


class _TemplateChecker:
    def __init__(
        self,
        schedule: Schedule,
        located: Located,
        path: str,
        templates_dir: Path,
        report: Report,
    ) -> None:
        self.schedule = schedule
        self.located = located
        self.path = path
        self.dir = templates_dir
        self.env: SandboxedEnvironment = make_environment(templates_dir)
        self.report = report
        self.files_checked = 0
        self._seen: set[str] = set()

    def run(self) -> None:
        for name, sequence in self.schedule.sequences.items():
            for index, step in enumerate(sequence.steps):
                where = self.located.where(("sequences", name, "steps", index, "template"))
                for channel in step.channels:
                    for locale in self.schedule.clinic.locales:
                        self._check(step, channel, locale, where.line, where.col)

    def _problem(self, line: int, col: int, message: str) -> None:
        self.report.problems.append(Problem(self.path, line, col, message))

    def _check(self, step: Step, channel: str, locale: str, line: int, col: int) -> None:
        context = sample_context(self.schedule, step.anchor, locale, channel)
        for variant in variants_for(channel):
            rel = template_path(locale, step.template, variant)
            file = self.dir / rel
            label = f"step {step.id!r}: template {step.template!r}"
            if not file.is_file():
                self._problem(line, col, f"{label}: missing {channel} file {file}")
                continue
            source = file.read_text(encoding="utf-8")
            if rel not in self._seen:
                self._seen.add(rel)
                self.files_checked += 1
                self._note_review(file, source)
            try:
                ast = self.env.parse(source, name=rel)
            except TemplateSyntaxError as exc:
                self._problem(
                    line, col, f"{label}: {file}:{exc.lineno}: syntax error: {exc.message}"
                )
                continue
            missing = sorted(meta.find_undeclared_variables(ast) - set(context))
            if missing:
                self._problem(
                    line,
                    col,
                    f"{label}: {file} uses {', '.join(map(repr, missing))}, which the message "
                    f"context does not provide for anchor {step.anchor!r}",
                )
                continue
            try:
                rendered = render_bounded(self.env.get_template(rel), context).strip()
            except TemplateProblem as exc:
                self._problem(line, col, f"{label}: {exc}")
                continue
            if variant == "sms":
                self._check_sms(label, file, locale, rendered, line, col)

    def _check_sms(
        self, label: str, file: Path, locale: str, body: str, line: int, col: int
    ) -> None:
        info = count_segments(body)
        budget = self.schedule.clinic.sms_segment_budget.get(locale, 2)
        self.report.segments[(str(file), locale)] = info.segments
        if info.segments > budget:
            self._problem(
                line,
                col,
                f"{label}: {file} is {info.segments} SMS segments ({info.encoding}, "
                f"{info.units} units), over the {locale} budget of {budget}",
            )
        lookalikes = needless_ucs2(body)
        if lookalikes:
            shown = ", ".join(f"U+{ord(c):04X}" for c in lookalikes)
            self._problem(
                line, col, f"{label}: {file} has characters that force UCS-2 needlessly: {shown}"
            )

    def _note_review(self, file: Path, source: str) -> None:
        review = read_review(source)
        if review is None:
            self.report.warnings.append(f"{file}: no review marker; awaiting clinical review")
        elif not review.approved:
            self.report.warnings.append(f"{file}: awaiting clinical review")
