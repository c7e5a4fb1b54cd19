"""Print a one-line summary of each message: for development and demos.

Only ids and sizes: a terminal is a log, and logs never carry bodies or addresses.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console

from engage.channels.base import Outgoing, Receipt
from engage.rendering.segments import count_segments


def summary(message: Outgoing) -> str:
    """E.g. `message 42 sms 2 segments (GSM-7, 170 units)`, `message 43 email 1832 bytes, ...`."""
    if message.channel == "sms":
        info = count_segments(message.body)
        shape = f"{info.segments} segments ({info.encoding}, {info.units} units)"
        return f"message {message.message_id} sms {shape}"
    size = sum(len(part.encode()) for part in (message.subject, message.body, message.html))
    size += sum(len(item.content) for item in message.attachments)
    files = len(message.attachments)
    noun = "attachment" if files == 1 else "attachments"
    return f"message {message.message_id} {message.channel} {size} bytes, {files} {noun}"


class ConsoleChannel:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._console = Console(
            file=stream or sys.stdout, markup=False, highlight=False, soft_wrap=True
        )

    def send(self, message: Outgoing) -> Receipt:
        self._console.print(summary(message))
        return Receipt(provider=self.name, provider_id=f"console-{message.message_id}")
