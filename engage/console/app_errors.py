"""A service's refusal as a page that says what to do next (pages import this, not app.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from engage.console import web
from engage.errors import Conflict, InvalidInput, NotFound, PlanningError


def problem_page(request: Request, who: web.Viewer, exc: Exception) -> Response:
    """A service's refusal (bad input, no such record, a conflict) as a page saying what next."""
    status, step = 400, "Go back, correct the value and try again."
    if isinstance(exc, NotFound):
        status, step = 404, "It may have been removed or the link is wrong. Search for it again."
    elif isinstance(exc, Conflict):
        status, step = 409, "Someone may have changed it meanwhile. Reload the page and retry."
    elif not isinstance(exc, InvalidInput | PlanningError):
        raise exc
    return web.render(request, "error.html", who, status, title=str(exc), next_step=step)
