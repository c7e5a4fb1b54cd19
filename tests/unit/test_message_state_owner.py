"""Only `engage/store/message_states.py` writes a message's state or its event rows.

An AST scan of every module under engage/: a new `update(Message)`, a new MessageEvent, a new
`<something>.state = ...` on anything not known to be another record, or raw SQL against the
message tables anywhere else fails this test. The scanner's own cases prove it catches each form.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "engage"
OWNER = ROOT / "store" / "message_states.py"
MODEL = ROOT / "store" / "messages.py"
MIGRATIONS = ROOT / "store" / "migrations"
# Records other than messages that have a `state` of their own (their owners set it).
OTHER_RECORDS = frozenset({"enrollment", "appointment", "consent", "user", "session"})
_TABLE_CALLS = frozenset({"update", "insert", "delete"})
_MESSAGE_CLASSES = frozenset({"Message", "MessageEvent"})
_MESSAGE_NAMES = _MESSAGE_CLASSES | {"MessageState", "messages"}
_RAW_SQL = ("update message", "insert into message", "delete from message")


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _call_problem(node: ast.Call) -> str | None:
    func = _name(node.func)
    first = _name(node.args[0]) if node.args else ""
    if func in _TABLE_CALLS and first in _MESSAGE_CLASSES:
        return f"{func}({first})"
    if func in _MESSAGE_CLASSES:
        return f"{func}(...) constructed"
    if func == "setattr" and len(node.args) > 1:
        attr = node.args[1]
        if isinstance(attr, ast.Constant) and attr.value == "state":
            return "setattr(..., 'state', ...)"
    return None


def _assign_problem(target: ast.expr) -> str | None:
    if isinstance(target, ast.Attribute) and target.attr == "state":
        owner = _name(target.value)
        if owner.lower() not in OTHER_RECORDS:
            return f"{ast.unparse(target)} = ..."
    return None


def _knows_messages(tree: ast.Module) -> bool:
    """Does the module import the message model (so a `.state` it sets may be a message's)?"""
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("engage."):
            continue
        if any(alias.name in _MESSAGE_NAMES for alias in node.names):
            return True
    return False


def problems(source: str, *, assume_messages: bool = True) -> list[str]:
    """Each message-state write in `source`, as `line: what`.

    An assignment to `.state` counts in a module that imports the message model (or, for the
    snippets below, always); other modules' `.state` belongs to their own records.
    """
    tree = ast.parse(source)
    check_assignments = assume_messages or _knows_messages(tree)
    found = []
    for node in ast.walk(tree):
        problem = None
        if isinstance(node, ast.Call):
            problem = _call_problem(node)
        elif check_assignments and isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            problem = next(filter(None, map(_assign_problem, targets)), None)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = " ".join(node.value.lower().split())
            if any(sql in text for sql in _RAW_SQL):
                problem = "raw SQL writing the message tables"
        if problem:
            found.append(f"{getattr(node, 'lineno', 0)}: {problem}")
    return found


def test_no_module_but_the_owner_writes_message_state() -> None:
    offenders = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path in (OWNER, MODEL) or MIGRATIONS in path.parents:
            continue
        found = problems(path.read_text(), assume_messages=False)
        if found:
            offenders[str(path.relative_to(ROOT.parent))] = found
    assert offenders == {}


def test_the_owner_is_where_the_writes_are() -> None:
    assert problems(OWNER.read_text()), "the scan no longer recognises the owner's own writes"


@pytest.mark.parametrize(
    "source",
    [
        "session.execute(update(Message).values(state='sent'))",
        "session.execute(sa.update(Message).where(x))",
        "session.execute(insert(MessageEvent), rows)",
        "session.add(MessageEvent(message_id=1, to_state='sent'))",
        "session.add(Message(state=S.SCHEDULED))",
        "message.state = MessageState.SENT",
        "row.state = 'queued'",
        "m.state: str = 'queued'",
        "setattr(message, 'state', 'sent')",
        "session.execute(text('UPDATE message SET state = 1'))",
        "session.execute(text('''insert into\\n message_event values (1)'''))",
    ],
)
def test_the_scan_catches_each_way_of_writing_state(source: str) -> None:
    assert problems(source)


@pytest.mark.parametrize(
    "source",
    [
        "enrollment.state = EnrollmentState.PAUSED",
        "appointment.state = AppointmentState.CONFIRMED",
        "select(Message).where(Message.state == S.QUEUED)",
        "update(Enrollment).values(state='cancelled')",
        "transition(session, message, S.SENT, 'ok', 'worker')",
    ],
)
def test_the_scan_lets_other_records_and_reads_be(source: str) -> None:
    assert problems(source) == []


def test_a_module_importing_the_message_model_may_not_set_any_state() -> None:
    source = "from engage.store.messages import Message\nrow.state = 'sent'\n"
    assert problems(source, assume_messages=False)
    assert problems("row.state = 'applied'\n", assume_messages=False) == []
