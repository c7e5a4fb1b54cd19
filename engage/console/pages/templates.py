"""Templates: each sequence's messages rendered per locale and channel with sample data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engage.console import web
from engage.rendering.catalogue import catalogue
from engage.rendering.context import SAMPLE_FIRST_NAME

router = APIRouter()


@router.get("/templates")
def templates(
    request: Request, who: web.Staff, plan: web.Plan, env: web.Env, sequence: str = ""
) -> Response:
    names = list(plan.sequences)
    chosen = sequence if sequence in plan.sequences else names[0]
    rows = catalogue(plan, env, web.settings(request).templates_dir, chosen)
    return web.render(
        request,
        "templates.html",
        who,
        title="Templates",
        names=names,
        chosen=chosen,
        rows=rows,
        sample_name=SAMPLE_FIRST_NAME,
    )
