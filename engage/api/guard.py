"""`Guard`: the pure ASGI layer in front of every route (API, webhooks, console).

Before anything reads the request it refuses oversized headers (431), bodies over the route's
limit by their Content-Length (413, so an unsigned 200 MB POST costs nothing) and sources
throttled for failing signatures or tokens (429). While the app reads, it counts the bytes of
a body sent without a length and stops at the limit (413). On the way out it adds the security
headers and an `X-Request-ID`; an unhandled error becomes a 500 whose body and log line carry
that id as `correlation_id`, never a trace.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engage.api.limits import body_limit, header_problem
from engage.api.security_headers import merged
from engage.api.throttle import FailureThrottle, route_kind
from engage.logs import get_logger

log = get_logger("engage.api")


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body outgrows its route's limit; FastAPI answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes for this route")


@dataclass
class _Exchange:
    request_id: str
    path: str
    https: bool
    started: bool = False
    status: int = 0


async def _reply(send: Send, status: int, body: dict[str, Any], **headers: str) -> None:
    payload = json.dumps(body).encode()
    extra = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) < 19 else -1
    return None


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def receive_at_most() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_at_most


class Guard:
    """Wrap `app`; `https` turns on HSTS (the public URL is https)."""

    def __init__(self, app: ASGIApp, *, https: bool, throttle: FailureThrottle) -> None:
        self.app, self.https, self.throttle = app, https, throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(uuid.uuid4().hex, scope["path"], self.https)
        send = self._sending(send, exchange)
        source = (scope.get("client") or ("unknown", 0))[0]
        kind = route_kind(exchange.path)
        if await self._refused(scope, send, source, kind):
            return
        try:
            with structlog.contextvars.bound_contextvars(request_id=exchange.request_id):
                await self.app(scope, _limited(receive, body_limit(exchange.path)), send)
        except BodyTooLarge as exc:  # read by a middleware; a route's own read is FastAPI's
            if not exchange.started:
                await _reply(send, 413, {"detail": exc.detail})
        except Exception:
            log.exception("http.error", correlation_id=exchange.request_id)
            if not exchange.started:
                body = {"detail": "internal error", "correlation_id": exchange.request_id}
                await _reply(send, 500, body)
        finally:
            if kind is not None and exchange.status == 403:
                self.throttle.failed(source, kind)

    async def _refused(self, scope: Scope, send: Send, source: str, kind: str | None) -> bool:
        """Answer a request refused on sight (431, 429, 413, 400); True when it was."""
        if problem := header_problem(scope["headers"]):
            await _reply(send, 431, {"detail": problem})
            return True
        wait = self.throttle.retry_after(source, kind) if kind is not None else 0
        if wait:
            await _reply(send, 429, {"detail": "too many failed attempts"}, retry_after=str(wait))
            return True
        length, limit = _content_length(scope), body_limit(scope["path"])
        if length is not None and length < 0:
            await _reply(send, 400, {"detail": "Content-Length is not a number"})
            return True
        if length is not None and length > limit:
            await _reply(send, 413, {"detail": f"the request body is over {limit} bytes"})
            return True
        return False

    @staticmethod
    def _sending(send: Send, exchange: _Exchange) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.started, exchange.status = True, message["status"]
                headers = merged(
                    list(message.get("headers", [])), exchange.path, https=exchange.https
                )
                headers.append((b"x-request-id", exchange.request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return send_with_headers
