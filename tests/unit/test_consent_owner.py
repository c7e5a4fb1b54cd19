"""Only `engage/consent/service.py` writes consent: every change goes through its precedence rules.

An AST scan of every module under engage/: constructing a Consent, `insert/update/delete(Consent)`,
assigning `.granted`, appending to `.consents`, or raw SQL against the consent table anywhere else
fails this test. The scanner's own cases prove it catches each form.
"""

from __future__ import annotations

import ast

import pytest

from tests.write_scan import ROOT, Table, assigned, name, offenders
from tests.write_scan import problems as scan

OWNER = ROOT / "consent" / "service.py"
MODEL = ROOT / "store" / "patients.py"
CONSENT = Table(
    classes=frozenset({"Consent", "ConsentEvent"}),
    raw_sql=("update consent", "insert into consent", "delete from consent"),
    what="the consent table",
)
_LIST_WRITES = frozenset({"append", "extend", "remove", "insert", "clear", "pop"})


def _list_write(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    if name(node.func.value) == "consents" and node.func.attr in _LIST_WRITES:
        return f".consents.{node.func.attr}(...)"
    return None


def _granted_set(node: ast.AST) -> str | None:
    for target in assigned(node):
        if isinstance(target, ast.Attribute) and target.attr == "granted":
            return f"{ast.unparse(target)} = ..."
    return None


def problems(source: str) -> list[str]:
    """Each consent write in `source`, as `line: what`."""
    return scan(ast.parse(source), CONSENT, _list_write, _granted_set)


def test_no_module_but_the_consent_service_writes_consent() -> None:
    assert offenders((OWNER, MODEL), problems) == {}


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
