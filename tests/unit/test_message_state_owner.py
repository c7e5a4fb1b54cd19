"""Only `engage/store/message_states.py` writes a message's state or its event rows.

An AST scan of every module under engage/: a new `update(Message)`, a new MessageEvent, a new
`<something>.state = ...` on anything not known to be another record, or raw SQL against the
message tables anywhere else fails this test. The scanner's own cases prove it catches each form.
"""

from __future__ import annotations

import ast

import pytest

from tests.write_scan import ROOT, Table, assigned, name, offenders
from tests.write_scan import problems as scan

OWNER = ROOT / "store" / "message_states.py"
MODEL = ROOT / "store" / "messages.py"
# Records other than messages that have a `state` of their own (their owners set it).
OTHER_RECORDS = frozenset({"enrollment", "appointment", "consent", "user", "session"})
MESSAGES = Table(
    classes=frozenset({"Message", "MessageEvent"}),
    raw_sql=("update message", "insert into message", "delete from message"),
    what="the message tables",
)
_MESSAGE_NAMES = MESSAGES.classes | {"MessageState", "messages"}


def _setattr_state(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and name(node.func) == "setattr" and len(node.args) > 1:
        attr = node.args[1]
        if isinstance(attr, ast.Constant) and attr.value == "state":
            return "setattr(..., 'state', ...)"
    return None


def _state_set(node: ast.AST) -> str | None:
    for target in assigned(node):
        if not isinstance(target, ast.Attribute) or target.attr != "state":
            continue
        if name(target.value).lower() not in OTHER_RECORDS:
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
    if assume_messages or _knows_messages(tree):
        return scan(tree, MESSAGES, _setattr_state, _state_set)
    return scan(tree, MESSAGES, _setattr_state)


def test_no_module_but_the_owner_writes_message_state() -> None:
    assert offenders((OWNER, MODEL), lambda source: problems(source, assume_messages=False)) == {}


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
