"""Audit (admin): who did what, newest first, filterable by who, what and which record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from engage.console import queries, web

router = APIRouter()


def wanted(actor: str = "", action: str = "", entity: str = "") -> dict[str, str]:
    """The filters from the address, bounded as their columns are (action: a prefix)."""
    return {"actor": actor[:64], "action": action[:64], "entity": entity[:32]}


@router.get("/audit")
def audit(
    request: Request,
    who: web.Admin,
    sessions: web.Sessions,
    filters: Annotated[dict[str, str], Depends(wanted)],
    page: int = 1,
) -> Response:
    with sessions() as session:
        rows = queries.audit_rows(session, min(page, 10_000), **filters)
    return web.render(request, "audit.html", who, 200, title="Audit", rows=rows, **filters)
