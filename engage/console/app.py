"""`install`: add the console's pages, static files, offline /docs and error pages to an app."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from engage.console import web
from engage.console.pages import (
    appointments,
    audit,
    consent,
    enroll,
    hl7,
    imports,
    inbox,
    operations,
    patient,
    patients,
    signin,
    templates,
    today,
    users,
)
from engage.errors import Conflict, InvalidInput, NotFound, PlanningError

STATIC = Path(__file__).parent / "static"
VENDOR = f"{web.PREFIX}/static/vendor"
PAGES = (
    signin.router,
    today.router,
    patients.router,
    patient.router,
    consent.router,
    appointments.router,
    enroll.router,
    inbox.router,
    imports.router,
    templates.router,
    operations.router,
    hl7.router,
    audit.router,
    users.router,
)


def install(app: FastAPI, *, hl7_reapply: web.Hl7Reapply | None = None) -> None:
    """Mount the console on `app` (built by the API's create_app, which serves no docs itself);
    `hl7_reapply`: the feed's re-apply service, for the HL7 page's button (see engage.asgi)."""
    app.state.hl7_reapply = hl7_reapply
    app.mount(f"{web.PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    for router in PAGES:
        app.include_router(router, prefix=web.PREFIX, include_in_schema=False)
    app.add_api_route("/", _home, methods=["GET"], include_in_schema=False)
    if app.openapi_url:  # ENGAGE_API_DOCS=false closes the docs with the schema
        app.add_api_route("/docs", _swagger, methods=["GET"], include_in_schema=False)
        app.add_api_route("/redoc", _redoc, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(web.NeedSignIn, _to_signin)  # type: ignore[arg-type]
    app.add_exception_handler(web.Refused, _refused)  # type: ignore[arg-type]
    kinds: tuple[type[Exception], ...] = (
        NotFound,
        Conflict,
        InvalidInput,
        PlanningError,
        RequestValidationError,
    )
    for kind in (*kinds, StarletteHTTPException):
        app.add_exception_handler(kind, _pages_or(app.exception_handlers.get(kind)))


def _pages_or(api_handler: Any) -> Callable[[Request, Exception], Any]:
    """On console paths an error is a page saying what next; elsewhere the API's JSON answer."""

    async def handler(request: Request, exc: Exception) -> Any:
        if request.url.path.startswith(web.PREFIX + "/"):
            return _page_for(request, exc)
        if api_handler is None:
            return await http_exception_handler(request, exc)  # type: ignore[arg-type]
        answer = api_handler(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    return handler


def _page_for(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StarletteHTTPException):
        status, title = exc.status_code, str(exc.detail)
        step = "Check the address, or use the menu to find what you need."
        if status == 405:
            step = "This address is not a page to open directly. Go back and use its form."
    elif isinstance(exc, RequestValidationError):
        status, title = 422, _unreadable(exc)
        step = "A value in the address or form could not be read. Go back and use the page's links."
    else:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
        title = str(exc)
        step = "Go back, correct it and try again; or search for the record again."
    return web.render(
        request, "error.html", _signed_in(request), status, title=title, next_step=step
    )


def _signed_in(request: Request) -> web.Viewer | None:
    """Who is signed in, for the menu on an error page; None if nobody (or it cannot be read)."""
    try:
        return web.watcher(request)  # reads only: an error page does not restart the idle clock
    except Exception:  # signed out, expired, or the database is the error: a page without a menu
        return None


def _unreadable(exc: RequestValidationError) -> str:
    """Which field and why, never the value sent (it may be a name or a phone)."""
    parts = [
        f"{error['loc'][-1] if error.get('loc') else 'value'}: {error.get('msg', 'not valid')}"
        for error in exc.errors()[:3]
    ]
    return "; ".join(parts) or "a value could not be read"


def _home() -> RedirectResponse:
    return RedirectResponse(f"{web.PREFIX}/", status_code=303)


class _Docs(TypedDict):
    openapi_url: str
    title: str


DOCS = _Docs(openapi_url="/openapi.json", title="engage API")
FAVICON = f"{VENDOR}/swagger-ui/favicon-32x32.png"


def _swagger() -> HTMLResponse:
    swagger = f"{VENDOR}/swagger-ui"
    return get_swagger_ui_html(
        **DOCS,
        swagger_js_url=f"{swagger}/swagger-ui-bundle.js",
        swagger_css_url=f"{swagger}/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )


def _redoc() -> HTMLResponse:
    js = f"{VENDOR}/redoc/redoc.standalone.js"
    return get_redoc_html(
        **DOCS, redoc_js_url=js, redoc_favicon_url=FAVICON, with_google_fonts=False
    )


def _to_signin(request: Request, exc: web.NeedSignIn) -> Response:
    target = web.signin_url(exc.next_url, exc.expired)
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(web.COOKIE, path="/")
    return response


def _refused(request: Request, exc: web.Refused) -> Response:
    return web.render(
        request, "error.html", None, exc.status, title=exc.title, next_step=exc.next_step
    )
