"""How engage's exceptions become HTTP answers, and the shapes of those answers.

Every error body has a `detail`. A validation error (422) lists each bad field with its path,
as FastAPI's own request validation does, so a client handles both the same way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from engage.errors import Conflict, DuplicateError, InvalidInput, NotFound, PlanningError


class Problem(BaseModel):
    """Why the request was refused, in one sentence."""

    detail: str


class DuplicatePatient(Problem):
    """A patient with the same phone or email exists already: use (or update) that one."""

    existing_patient_id: int
    field: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    detail: list[FieldProblem]


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route can answer."""
    described = {
        400: ("the body could not be read (malformed JSON or form)", Problem),
        401: ("no valid bearer token", Problem),
        403: ("the token's role may not do this", Problem),
        404: ("no such record", Problem),
        409: ("conflicts with a stored record or state", Problem),
        422: ("a field is invalid: `loc` is its path", Invalid),
    }
    return {
        code: {"description": described[code][0], "model": described[code][1]} for code in codes
    }


def invalid(loc: list[str | int], msg: str) -> JSONResponse:
    body = Invalid(detail=[FieldProblem(loc=loc, msg=msg, type="value_error")])
    return JSONResponse(body.model_dump(), status_code=422)


def install(app: FastAPI) -> None:
    """Map engage's exception hierarchy onto status codes, once, for every router."""

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DuplicateError):
            body = DuplicatePatient(
                detail=str(exc), existing_patient_id=exc.existing_id, field=exc.field
            )
            return JSONResponse(body.model_dump(), status_code=409)
        return JSONResponse({"detail": str(exc)}, status_code=409)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidInput)
        parts = [int(p) if p.isdigit() else p for p in exc.field.split(".")]
        return invalid(["body", *parts], exc.problem)

    async def planning(_: Request, exc: Exception) -> JSONResponse:
        return invalid(["body"], str(exc))

    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(InvalidInput, validation)
    app.add_exception_handler(PlanningError, planning)
