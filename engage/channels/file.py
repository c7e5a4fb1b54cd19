"""Write each message as `{outbox_dir}/{message_id}.json`: the delivered artefact in embedded mode.

The write is atomic (temp file + rename), so a reader never sees half a message, and sending the
same message again replaces its file rather than adding a second one.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

from engage.channels.base import Outgoing, Receipt
from engage.errors import DeliveryError


def as_json(message: Outgoing) -> dict[str, object]:
    return {
        "message_id": message.message_id,
        "channel": message.channel,
        "to": message.to,
        "subject": message.subject,
        "body": message.body,
        "html": message.html,
        "unsubscribe_url": message.unsubscribe_url,
        "attachments": [
            {
                "filename": item.filename,
                "content_type": item.content_type,
                "content_base64": base64.b64encode(item.content).decode("ascii"),
            }
            for item in message.attachments
        ],
    }


class FileChannel:
    name = "file"

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = Path(outbox_dir)

    def path_for(self, message_id: int) -> Path:
        return self.outbox_dir / f"{message_id}.json"

    def send(self, message: Outgoing) -> Receipt:
        try:
            self._write(message)
        except OSError as exc:  # a full or read-only disk may recover: retry
            reason = f"file: cannot write message {message.message_id} ({exc.strerror})"
            raise DeliveryError(reason, permanent=False, code="io") from None
        return Receipt(provider=self.name, provider_id=f"file-{message.message_id}")

    def _write(self, message: Outgoing) -> None:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        target = self.path_for(message.message_id)
        fd, temp = tempfile.mkstemp(dir=self.outbox_dir, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(as_json(message), out, ensure_ascii=False, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
