"""Structured logs (structlog): JSON lines carrying ids and actions, never bodies or addresses.

`redact` is the last processor, a safety net: whatever a caller passes, a phone number or an
email address never reaches the log line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# E.164 with its plus, or a bare run of 10-15 digits; host:port and ids stay readable.
_PHONE = re.compile(r"\+\d[\d\s().-]{6,}\d|(?<![\d.])\d{10,15}(?![\d.])")
_FORBIDDEN_KEYS = frozenset({"body", "html", "text", "subject", "to", "phone", "email", "Body"})


def _scrub(value: str) -> str:
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", value))


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop content keys and mask anything that looks like a phone number or email address."""
    for key in list(event):
        if key in _FORBIDDEN_KEYS:
            event[key] = "[redacted]"
        elif isinstance(event[key], str) and key not in ("timestamp", "level"):
            event[key] = _scrub(event[key])
    return event


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Route structlog and the stdlib (Celery, uvicorn) through one JSON renderer on stderr."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The Twilio SDK dumps every request and response at INFO (ten lines each): noise that
    # costs the worker CPU per message and says nothing our own send.* events do not.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def get_logger(name: str = "engage") -> Any:
    return structlog.get_logger(name)
