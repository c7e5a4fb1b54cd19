"""The answers every operation may give because of the Guard and CleanText, in the schema.

Documented once here rather than on each route: any route may meet an oversized request (413,
431), text it cannot store (422), and the webhooks and unsubscribe links a throttled source
(429); a 500 carries a correlation id for the log.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from engage.api.throttle import route_kind

_REFUSAL = {"$ref": "#/components/schemas/Refusal"}
_COMMON = {
    "413": "the body is over this route's limit (docs/api.md, Security)",
    "422": "a field is invalid (a NUL or a lone surrogate in any text, among others)",
    "431": "the request's headers are too large",
    "500": "an internal error; `correlation_id` names it in the log",
}


def _answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REFUSAL}}}


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that adds the Guard's answers to every operation."""

    fastapi_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = fastapi_schema()
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Refusal",
            {
                "type": "object",
                "description": "`detail` is a sentence, or (422) a list of fields with `loc`",
                "properties": {"detail": {}, "correlation_id": {"type": "string"}},
            },
        )
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                for code, description in _COMMON.items():
                    answers.setdefault(code, _answer(description))
                if route_kind(path) is not None:
                    answers.setdefault("429", _answer("too many failed attempts from this source"))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
