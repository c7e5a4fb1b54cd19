"""Read schedules.yaml into a `Schedule`, reporting every problem as `PATH:LINE:COL: message`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from engage.errors import ScheduleError
from engage.schedule.models import ANCHORS, Schedule
from engage.schedule.yamlpos import Located, Position, YamlSyntaxError, load_located

# Problems the raw pass reports with exact positions; pydantic's copies of them are dropped.
_REPORTED_BY_RAW_PASS = ("duplicate step id", "unknown anchor")


@dataclass(frozen=True)
class Problem:
    """One finding, printable in the compiler-style form editors can jump to."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


@dataclass(frozen=True)
class Parsed:
    """A schedule (None when invalid), the problems found and where each YAML node sits."""

    schedule: Schedule | None
    problems: list[Problem]
    located: Located | None


def parse_schedule(text: str, path: str = "schedules.yaml") -> Parsed:
    """Parse and validate schedule YAML without raising: every problem is collected."""
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        return Parsed(None, [Problem(path, exc.position.line, exc.position.col, str(exc))], None)
    if not isinstance(located.data, dict):
        return Parsed(
            None, [Problem(path, 1, 1, "expected a mapping with clinic: and sequences:")], located
        )
    problems = _raw_checks(located, path) + _hl7_checks(located, path)
    try:
        schedule = Schedule.model_validate(located.data)
    except pydantic.ValidationError as exc:
        problems += _pydantic_problems(exc, located, path)
        schedule = None
    problems.sort(key=lambda p: (p.line, p.col))
    return Parsed(schedule if not problems else None, problems, located)


def load_schedule(path: Path | str) -> Schedule:
    """Load a schedule file or raise ScheduleError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleError([f"{path}: cannot read: {exc.strerror}"]) from None
    parsed = parse_schedule(text, str(path))
    if parsed.schedule is None:
        raise ScheduleError([str(p) for p in parsed.problems])
    return parsed.schedule


def _at(path: str, position: Position, message: str) -> Problem:
    return Problem(path, position.line, position.col, message)


def _raw_checks(located: Located, path: str) -> list[Problem]:
    data: dict[str, Any] = located.data
    extra = data.get("anchors", ())
    known = set(ANCHORS) | (set(extra) if isinstance(extra, list) else set())
    problems: list[Problem] = []
    sequences = data.get("sequences")
    if not isinstance(sequences, dict):
        return problems
    for name, body in sequences.items():
        steps = body.get("steps") if isinstance(body, dict) else None
        if not isinstance(steps, list):
            continue
        seen: dict[str, int] = {}
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            where = ("sequences", name, "steps", index)
            step_id = step.get("id")
            if isinstance(step_id, str):
                if step_id in seen:
                    problems.append(
                        _at(
                            path,
                            located.where((*where, "id")),
                            f"sequence {name!r}: duplicate step id {step_id!r} "
                            f"(first used by step {seen[step_id] + 1})",
                        )
                    )
                seen.setdefault(step_id, index)
            anchor = step.get("anchor")
            if isinstance(anchor, str) and anchor not in known:
                problems.append(
                    _at(
                        path,
                        located.where((*where, "anchor")),
                        f"step {step_id!r}: unknown anchor {anchor!r} "
                        f"(expected one of {', '.join(sorted(known))})",
                    )
                )
    return problems


def _describe(loc: tuple[str | int, ...], located: Located) -> str:
    """`sequences.education.steps[2].offset` rendered as `step 'prep-3d': offset`."""
    if len(loc) >= 4 and loc[0] == "sequences" and loc[2] == "steps" and isinstance(loc[3], int):
        try:
            step_id = located.data["sequences"][loc[1]]["steps"][loc[3]].get("id", f"#{loc[3] + 1}")
        except (KeyError, IndexError, TypeError, AttributeError):
            step_id = f"#{loc[3] + 1}"
        rest = ".".join(str(part) for part in loc[4:])
        return f"sequence {loc[1]!r} step {step_id!r}" + (f": {rest}" if rest else "")
    return ".".join(str(part) for part in loc) or "document"


def _pydantic_problems(exc: pydantic.ValidationError, located: Located, path: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        if any(marker in message for marker in _REPORTED_BY_RAW_PASS):
            continue
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            position = located.where(loc, key=True)
            message = f"unknown key {loc[-1]!r}"
            loc = loc[:-1]
        elif err["type"] == "missing":
            position = located.where(loc[:-1])
            message = f"missing key {loc[-1]!r}"
            loc = loc[:-1]
        else:
            position = located.where(loc)
        problems.append(_at(path, position, f"{_describe(loc, located)}: {message}"))
    return problems


def _hl7_checks(located: Located, path: str) -> list[Problem]:
    """Each sequence an `hl7.infusions` rule starts must exist, reported where it is named."""
    data: dict[str, Any] = located.data
    feed = data.get("hl7")
    sequences = data.get("sequences")
    rules = feed.get("infusions") if isinstance(feed, dict) else None
    if not isinstance(rules, list) or not isinstance(sequences, dict):
        return []
    problems: list[Problem] = []
    for index, rule in enumerate(rules):
        names = rule.get("sequences") if isinstance(rule, dict) else None
        for position, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str) and name not in sequences:
                where = located.where(("hl7", "infusions", index, "sequences", position))
                known = ", ".join(sorted(sequences)) or "none"
                problems.append(
                    _at(
                        path,
                        where,
                        f"hl7 infusion {rule.get('type')!r}: unknown sequence "
                        f"{name!r} (known: {known})",
                    )
                )
    return problems
