"""`create_app`: the FastAPI application, wired from Settings (or a ready Runtime) in one place.

Routers come from one explicit tuple, `ROUTERS`: adding a concern is an import and a line.
OpenAPI is served at /openapi.json and browsable at /docs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from engage import __version__
from engage.api import (
    appointments,
    consents,
    courses,
    enrollments,
    errors,
    health,
    imports,
    inbox,
    openapi_limits,
    ops,
    patient_enrollments,
    patients,
    previews,
    timeline,
    tokens,
    unsubscribe,
    webhooks_sendgrid,
    webhooks_twilio,
    worklist,
)
from engage.api.guard import Guard
from engage.api.text_input import CleanText
from engage.api.throttle import FailureThrottle
from engage.runtime import Runtime
from engage.settings import Settings

ROUTERS: tuple[APIRouter, ...] = (
    patients.router,
    consents.router,
    enrollments.router,
    patient_enrollments.router,
    appointments.router,
    timeline.router,
    courses.router,
    previews.router,
    imports.router,
    inbox.router,
    worklist.router,
    tokens.router,
    webhooks_twilio.router,
    webhooks_sendgrid.router,
    unsubscribe.router,
    health.router,
    ops.router,
    ops.metrics_router,
)


class Alive(BaseModel):
    status: str


def _alive() -> Alive:
    """The process answers; says nothing about the database (see /ready)."""
    return Alive(status="ok")


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    docs: bool = True,
) -> FastAPI:
    """The API for `settings`; pass `runtime` to share one (and its engine) with the caller.

    `docs=False` leaves /docs and /redoc to engage.asgi, which serves their assets locally
    (FastAPI's own pages load them from a CDN and render blank without internet).
    """
    docs = docs and settings.api_docs
    app = FastAPI(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        # ENGAGE_API_DOCS=false closes the schema too: production need not publish its map.
        openapi_url="/openapi.json" if settings.api_docs else None,
        title="engage",
        version=__version__,
        summary="Email + SMS patient engagement: staff API and provider webhooks.",
    )
    app.state.runtime = runtime or Runtime(settings)
    app.state.clock = clock or (lambda: datetime.now(UTC))
    errors.install(app)
    https = settings.public_url.startswith("https://")
    app.add_middleware(CleanText)  # inner: reads bodies only once Guard has bounded them
    app.add_middleware(Guard, https=https, throttle=FailureThrottle())
    app.add_api_route("/health", _alive, methods=["GET"], tags=["health"], response_model=Alive)
    for router in ROUTERS:
        app.include_router(router)
    openapi_limits.install(app)
    return app
