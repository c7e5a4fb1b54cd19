"""Structured logs (structlog): JSON lines carrying ids and actions, never bodies or addresses.

`redact` is the last processor, a safety net: whatever a caller passes (exceptions included),
a phone number or an email address never reaches the log line. Its patterns run in linear
time: a 40,000-digit header must not stall the process that logs it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from engage.text.scrub import exception_fields, scrub, scrub_value

_FORBIDDEN_KEYS = frozenset({"body", "html", "text", "subject", "to", "phone", "email", "Body"})
_KEEP = frozenset({"timestamp", "level", "logger", "exception"})


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop content keys; mask anything that looks like a phone number or email address."""
    exc_info = event.pop("exc_info", None)
    if exc_info:
        exception = exception_fields(exc_info)
        if exception is not None:
            event["exception"] = exception
    for key in list(event):
        if key in _FORBIDDEN_KEYS:
            event[key] = "[redacted]"
        elif key == "event" and isinstance(event[key], str):
            event[key] = scrub(event[key])
        elif key not in _KEEP:
            event[key] = scrub_value(event[key])
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
