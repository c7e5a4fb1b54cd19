"""Only `engage/consent/service.py` writes consent: every change goes through its precedence rules.

An AST scan of every module under engage/: constructing a Consent, `insert/update/delete(Consent)`,
assigning `.granted`, appending to `.consents`, or raw SQL against the consent table anywhere else
fails this test. The scanner's own cases prove it catches each form.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "engage"
OWNER = ROOT / "consent" / "service.py"
MODEL = ROOT / "store" / "patients.py"
MIGRATIONS = ROOT / "store" / "migrations"
_TABLE_CALLS = frozenset({"update", "insert", "delete"})
_CONSENT_CLASSES = frozenset({"Consent", "ConsentEvent"})
_RAW_SQL = ("update consent", "insert into consent", "delete from consent")
_CONSENT_ATTRS = frozenset({"granted"})


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _call_problem(node: ast.Call) -> str | None:
    func = _name(node.func)
    first = _name(node.args[0]) if node.args else ""
    if func in _TABLE_CALLS and first in _CONSENT_CLASSES:
        return f"{func}({first})"
    if func in _CONSENT_CLASSES:
        return f"{func}(...) constructed"
    if (
        isinstance(node.func, ast.Attribute)
        and _name(node.func.value) == "consents"
        and node.func.attr in {"append", "extend", "remove", "insert", "clear", "pop"}
    ):
        return f".consents.{node.func.attr}(...)"
    return None


def _assign_problem(target: ast.expr) -> str | None:
    if isinstance(target, ast.Attribute) and target.attr in _CONSENT_ATTRS:
        return f"{ast.unparse(target)} = ..."
    return None


def problems(source: str) -> list[str]:
    """Each consent write in `source`, as `line: what`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        problem = None
        if isinstance(node, ast.Call):
            problem = _call_problem(node)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            problem = next(filter(None, map(_assign_problem, targets)), None)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = " ".join(node.value.lower().split())
            if any(sql in text for sql in _RAW_SQL):
                problem = "raw SQL writing the consent table"
        if problem:
            found.append(f"{getattr(node, 'lineno', 0)}: {problem}")
    return found


def test_no_module_but_the_consent_service_writes_consent() -> None:
    offenders = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path in (OWNER, MODEL) or MIGRATIONS in path.parents:
            continue
        found = problems(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT.parent))] = found
    assert offenders == {}


def test_the_owner_is_where_the_writes_are() -> None:
    assert problems(OWNER.read_text()), "the scan no longer recognises the service's own writes"


@pytest.mark.parametrize(
    "source",
    [
        "session.add(Consent(patient_id=1, channel='sms', granted=True))",
        "session.execute(insert(Consent), rows)",
        "session.execute(sa.update(Consent).values(granted=False))",
        "consent.granted = False",
        "patient.consents.append(x)",
        "session.execute(text('UPDATE consent SET granted = false'))",
    ],
)
def test_the_scan_catches_each_way_of_writing_consent(source: str) -> None:
    assert problems(source)


@pytest.mark.parametrize(
    "source",
    [
        "select(Consent).where(Consent.granted)",
        "granted = {c.channel for c in patient.consents if c.granted}",
        "service.change(session, 1, 'sms', granted=False, source='sms-stop')",
    ],
)
def test_the_scan_lets_reads_and_service_calls_be(source: str) -> None:
    assert problems(source) == []
