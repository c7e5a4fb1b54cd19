"""The sandbox clinic templates run in, and rendering that a template cannot hang or crash.

Jinja's ImmutableSandboxedEnvironment refuses unsafe attributes and every method that mutates a
list, dict or set (`settings.update({...})` once rewrote what every later message said). On
top of that, a render has budgets: loop iterations over `range` (nested loops multiply),
repetition (`'x' * n`, `n ** m`), padding widths, and the output's size; exceeding one is a
TemplateProblem like any other. Any error a template raises (`{{ 1/0 }}`, a bad `format`)
becomes `PATH:LINE: Type: message`, so validation reports it and a send fails that message.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engage.errors import TemplateProblem

MAX_OUTPUT_CHARS = 100_000  # an email is a few kilobytes; an SMS 1,600 characters at most
MAX_ITERATIONS = 10_000  # `range` elements per render, nested loops included
MAX_REPEAT = 10_000  # the longest `'x' * n` / `[..] * n`, and `n ** m` bounds
MAX_WIDTH = 1_000  # center / indent / wordwrap / truncate widths
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")


def _charge(count: int) -> None:
    budget = _budget.get(None)
    if budget is None:
        return
    budget[0] -= count
    if budget[0] < 0:
        raise TemplateProblem(f"loops run more than {MAX_ITERATIONS} times in one message")


def _range(*args: int) -> range:
    numbers = range(*args)
    _charge(len(numbers))
    return numbers


def _bounded(filter_: Callable[..., Any]) -> Callable[..., Any]:
    def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_WIDTH:
                raise TemplateProblem(f"a width over {MAX_WIDTH} in a template filter")
        return filter_(value, *args, **kwargs)

    return checked


class ClinicSandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox with repetition bounds; see `render_bounded` for the other budgets."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _range
        for name in ("center", "indent", "wordwrap", "truncate"):
            self.filters[name] = _bounded(self.filters[name])

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if abs(_number(left)) > MAX_REPEAT or abs(_number(right)) > 64:
                raise TemplateProblem(f"{left!r} ** {right!r} is too large for a template")
            return operator.pow(left, right)
        for sized, count in ((left, right), (right, left)):
            countable = isinstance(sized, str | list | tuple) and isinstance(count, int)
            if countable and len(sized) * count > MAX_REPEAT:
                raise TemplateProblem(f"repeats text more than {MAX_REPEAT} characters")
        return operator.mul(left, right)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _template_line(template: Template, tb: TracebackType | None) -> int | None:
    """The template line an exception came from (Jinja rewrites frames to template lines)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == template.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _chunks(template: Template, context: dict[str, Any]) -> Iterator[str]:
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateProblem(f"renders more than {MAX_OUTPUT_CHARS} characters")
        yield chunk


def render_bounded(template: Template, context: dict[str, Any]) -> str:
    """Render within the budgets; any failure is a TemplateProblem `PATH:LINE: message`."""
    path = template.filename or template.name or "<template>"
    token = _budget.set([MAX_ITERATIONS])
    try:
        return "".join(_chunks(template, context))
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"{path}:{exc.lineno}: syntax error: {exc.message}") from None
    except Exception as exc:  # whatever a template's expressions raise, located
        line = _template_line(template, exc.__traceback__)
        where = f"{path}:{line}" if line else path
        problem = str(exc) if isinstance(exc, TemplateProblem) else f"{type(exc).__name__}: {exc}"
        raise TemplateProblem(f"{where}: {problem}") from None
    finally:
        _budget.reset(token)
