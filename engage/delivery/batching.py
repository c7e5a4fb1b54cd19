"""How claimed messages are packed into send tasks.

Each Celery task costs about 5 ms of worker CPU around the send itself (receive, ack, events):
as much as the send. A backlog is therefore sent in tasks of up to `max_size` messages of one
channel; a trickle stays one message per task so that no message waits behind another's
provider round trip.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from engage.delivery.claim import Claimed

SPREAD = 32  # below this many messages per channel, every message gets its own task


def pack(claimed: Iterable[Claimed], max_size: int) -> list[tuple[str, list[int]]]:
    """Group by channel and split into (channel, ids) tasks, keeping the claim order."""
    by_channel: dict[str, list[int]] = defaultdict(list)
    for item in claimed:
        by_channel[item.channel].append(item.id)
    tasks = []
    for channel, ids in by_channel.items():
        size = max(1, min(max_size, len(ids) // SPREAD))
        tasks += [(channel, ids[i : i + size]) for i in range(0, len(ids), size)]
    return tasks
