"""`GET /ready`: may this process take traffic? (`/health` only says it is alive.)

Unauthenticated like /health, for load balancers and orchestrators: 200 when the database
answers at this version's migration and the broker accepts connections, else 503 with the
failing checks. It names no host or credential, only what failed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from engage.api import deps
from engage.ops.readiness import readiness

router = APIRouter(tags=["health"])


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: list[CheckOut]


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"description": "a check failed", "model": Readiness}},
)
def ready(request: Request) -> JSONResponse:
    """Database reachable, migrations current, broker reachable."""
    runtime = deps.runtime(request)
    checks = readiness(runtime.settings, runtime.engine)
    body = Readiness(
        ready=all(c.ok for c in checks),
        checks=[CheckOut(name=c.name, ok=c.ok, detail=c.detail) for c in checks],
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
