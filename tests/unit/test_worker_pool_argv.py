"""`engage worker` finds a gevent/eventlet pool in its command line before importing anything."""

from __future__ import annotations

import pytest

from engage.cli.green import requested_pool


@pytest.mark.parametrize(
    ("argv", "pool"),
    [
        (["engage", "worker", "--pool", "gevent", "-c", "8"], "gevent"),
        (["engage", "worker", "-Q", "sms", "-P", "gevent"], "gevent"),
        (["engage", "worker", "--pool=gevent"], "gevent"),
        (["engage", "worker", "-Pgevent"], "gevent"),
        (["engage", "worker", "-P", "eventlet"], "eventlet"),
        (["engage", "worker", "-c", "8"], ""),
        (["engage", "worker", "--pool"], ""),
        (["engage", "worker", "--", "--pool", "gevent"], ""),
        (["engage", "dispatcher", "--pool", "gevent"], ""),
        (["engage"], ""),
    ],
)
def test_pool_is_read_from_a_worker_command_line_only(argv: list[str], pool: str) -> None:
    assert requested_pool(argv) == pool
