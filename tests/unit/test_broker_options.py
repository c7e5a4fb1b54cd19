"""Redis hands a dead worker's unacked tasks back after the visibility timeout: two leases, not
an hour (a task killed before its first statement has no lease on its rows to bring them back)."""

from __future__ import annotations

from engage.ops.queues import broker_options
from engage.settings import Settings


def _timeout(**settings: object) -> object:
    _, options = broker_options(Settings(broker_url="redis://127.0.0.1:6379/0", **settings))
    return options["visibility_timeout"]


def test_the_visibility_timeout_is_two_leases_and_at_least_a_minute() -> None:
    assert _timeout() == 60  # the default lease is 30 s
    assert _timeout(send_lease_seconds=5) == 60
    assert _timeout(send_lease_seconds=120) == 240
