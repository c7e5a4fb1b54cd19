"""The AST scan behind the one-writer tests: which modules under engage/ write a table they do
not own (tests/unit/test_consent_owner.py, tests/unit/test_message_state_owner.py).

A table is written by constructing its model, by `insert/update/delete(Model)`, or by raw SQL;
each test adds the writes peculiar to its table (an attribute, a relationship list, setattr).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "engage"
MIGRATIONS = ROOT / "store" / "migrations"  # history: the migrations wrote tables before owners
_TABLE_CALLS = frozenset({"update", "insert", "delete"})


def name(node: ast.AST) -> str:
    """The last name of `node`: `x` for `x`, `c` for `a.b.c`, else ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


@dataclass(frozen=True)
class Table:
    """What writing one table looks like in source."""

    classes: frozenset[str]  # its model classes
    raw_sql: tuple[str, ...]  # lower-case statement openings, e.g. "update consent"
    what: str  # how a raw-SQL finding names it

    def call_problem(self, node: ast.Call) -> str | None:
        func = name(node.func)
        first = name(node.args[0]) if node.args else ""
        if func in _TABLE_CALLS and first in self.classes:
            return f"{func}({first})"
        if func in self.classes:
            return f"{func}(...) constructed"
        return None

    def sql_problem(self, node: ast.Constant) -> str | None:
        if not isinstance(node.value, str):
            return None
        text = " ".join(node.value.lower().split())
        if any(sql in text for sql in self.raw_sql):
            return f"raw SQL writing {self.what}"
        return None


Check = Callable[[ast.AST], str | None]


def problems(tree: ast.AST, table: Table, *extra: Check) -> list[str]:
    """Each write of `table` in `tree`, as `line: what`; `extra` checks catch the other forms."""
    found = []
    for node in ast.walk(tree):
        problem = None
        if isinstance(node, ast.Call):
            problem = table.call_problem(node)
        elif isinstance(node, ast.Constant):
            problem = table.sql_problem(node)
        problem = problem or next(filter(None, (check(node) for check in extra)), None)
        if problem:
            found.append(f"{getattr(node, 'lineno', 0)}: {problem}")
    return found


def offenders(owners: Iterable[Path], scan: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """Every module under engage/ (but the owners and the migrations) with what `scan` finds."""
    skip = set(owners)
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path in skip or MIGRATIONS in path.parents:
            continue
        result = scan(path.read_text())
        if result:
            found[str(path.relative_to(ROOT.parent))] = result
    return found


def assigned(node: ast.AST) -> list[ast.expr]:
    """The targets an assignment statement writes (none for any other node)."""
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    return []
