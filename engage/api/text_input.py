"""`CleanText`: no NUL and no lone surrogate in any text a request carries (422 naming where).

PostgreSQL cannot store a NUL in text (the insert fails: a 500 after the work was half done),
and a lone surrogate (`"\\ud800"` in JSON) cannot be encoded at all, not even into the 422 that
would explain it. Checked once, for every route, on the path, the query and JSON or form
bodies (bounded by the Guard's limits before this reads them); a multipart upload's fields
are checked by the route that reads it. JSON nested deeper than any of our bodies is refused
too, before a recursive parser can meet it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engage.text.storable import text_problem

MAX_JSON_DEPTH = 32
_INLINE_BYTES = 64 * 1024
Loc = list[str | int]


def _walk(document: Any) -> Iterator[tuple[Loc, Any]]:
    """Every key and value in a JSON document with its path, iteratively (no recursion)."""
    stack: list[tuple[Loc, Any]] = [(["body"], document)]
    while stack:
        loc, value = stack.pop()
        yield loc, value
        if isinstance(value, dict):
            for key, item in value.items():
                yield [*loc, key], key
                stack.append(([*loc, key], item))
        elif isinstance(value, list):
            stack.extend(([*loc, i], item) for i, item in enumerate(value))


def json_problem(body: bytes) -> tuple[Loc, str] | None:
    try:
        document = json.loads(body)
    except RecursionError:
        return ["body"], f"nested deeper than {MAX_JSON_DEPTH} levels"
    except ValueError:
        return None  # not JSON: the route answers that, as it always did
    for loc, value in _walk(document):
        if len(loc) > MAX_JSON_DEPTH + 1:
            return loc[: MAX_JSON_DEPTH + 1], f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(value, str) and (problem := text_problem(value)):
            return loc, problem
    return None


def body_problem(kind: str, body: bytes) -> tuple[Loc, str] | None:
    if kind.endswith("json"):
        return json_problem(body)
    return pairs_problem("body", body.decode("utf-8", "replace"))


def pairs_problem(where: str, query: str) -> tuple[Loc, str] | None:
    for name, value in parse_qsl(query, keep_blank_values=True):
        for text in (name, value):
            if problem := text_problem(text):
                return [where, name.replace("\x00", "\\x00")], problem
    return None


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            text: str = value.decode("latin-1")
            return text.split(";")[0].strip().lower()
    return ""


async def _answer(send: Send, loc: Loc, problem: str) -> None:
    body = json.dumps({"detail": [{"loc": loc, "msg": problem, "type": "value_error"}]})
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


class CleanText:
    """Refuse text that cannot be stored before any route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self._head_problem(scope)
        kind = _content_type(scope)
        body: bytes | None = None
        if found is None and (kind.endswith("json") or kind == "application/x-www-form-urlencoded"):
            body = await _read(receive)
            # A large webhook batch parses in a thread, so other requests keep being served.
            if len(body) > _INLINE_BYTES:
                found = await anyio.to_thread.run_sync(body_problem, kind, body)
            else:
                found = body_problem(kind, body)
        if found is not None:
            await _answer(send, *found)
            return
        await self.app(scope, receive if body is None else _replay(body, receive), send)

    @staticmethod
    def _head_problem(scope: Scope) -> tuple[Loc, str] | None:
        if problem := text_problem(scope["path"]):
            return ["path"], problem
        return pairs_problem("query", scope["query_string"].decode("utf-8", "replace"))


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """The body read already, then the client's own messages (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
