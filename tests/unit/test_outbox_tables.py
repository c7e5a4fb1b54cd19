"""The Core tables `engage status` reads are the models' columns, and its constants theirs.

`engage.ops.outbox_tables` restates them so status starts without the ORM; these keep the two
from drifting apart.
"""

from __future__ import annotations

from engage.delivery.claim import DISPATCHER
from engage.ops import outbox_tables as t
from engage.schedule.models import CHANNELS
from engage.store import Message, MessageEvent, MessageState


def test_every_column_read_is_the_models_column_of_that_name_and_kind() -> None:
    for light, model in ((t.message, Message.__table__), (t.message_event, MessageEvent.__table__)):
        assert light.name == model.name
        for column in light.columns:
            stored = model.columns[column.name].type
            kind = getattr(stored, "impl", stored).python_type  # UTCDateTime: its DateTime
            assert issubclass(kind, column.type.python_type), column.name  # a StrEnum is a str


def test_the_states_channels_and_dispatcher_are_the_models() -> None:
    for name in ("SCHEDULED", "QUEUED", "SENDING", "SENT", "DELIVERED", "FAILED"):
        assert getattr(t, name) == MessageState[name].value
    for name in ("UNDELIVERED", "FLAGGED"):
        assert getattr(t, name) == MessageState[name].value
    assert t.CHANNELS == CHANNELS
    assert t.DISPATCHER == DISPATCHER
