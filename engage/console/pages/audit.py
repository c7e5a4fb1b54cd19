"""Audit (admin): who did what, newest first, filterable by who, what and which record."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engage.console import queries, web

router = APIRouter()


@router.get("/audit")
def audit(
    request: Request,
    who: web.Admin,
    sessions: web.Sessions,
    actor: str = "",
    action: str = "",
    entity: str = "",
    page: int = 1,
) -> Response:
    with sessions() as session:
        rows = queries.audit_rows(
            session, min(page, 10_000), actor=actor[:64], action=action[:64], entity=entity[:32]
        )
    return web.render(
        request,
        "audit.html",
        who,
        title="Audit",
        rows=rows,
        actor=actor,
        action=action,
        entity=entity,
        zone=web.schedule(request).clinic.timezone,
    )
