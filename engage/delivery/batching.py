"""How claimed messages are packed into send tasks.

Each Celery task costs several milliseconds of worker CPU around the send itself (receive, ack,
events), and a batch's provider calls run concurrently (Sender.send_many), so a batch takes
about one provider round trip whatever its size. Claimed messages are therefore packed per
channel into tasks of up to `max_size`, but spread over at least `SPREAD` tasks when there are
enough, so that every worker process gets a share; a trickle stays one message per task.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from engage.delivery.claim import Claimed

SPREAD = 4  # a channel's claim goes out as at least this many tasks when it has the messages


def pack(claimed: Iterable[Claimed], max_size: int) -> list[tuple[str, list[int]]]:
    """Group by channel and split into (channel, ids) tasks, keeping the claim order."""
    by_channel: dict[str, list[int]] = defaultdict(list)
    for item in claimed:
        by_channel[item.channel].append(item.id)
    tasks = []
    for channel, ids in by_channel.items():
        size = max(1, min(max_size, math.ceil(len(ids) / SPREAD)))
        tasks += [(channel, ids[i : i + size]) for i in range(0, len(ids), size)]
    return tasks
