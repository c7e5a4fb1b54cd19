"""Inbox: texts patients sent, newest first, with the patient to open.

By default the replies no keyword handled (what a person must read); the keyword filter shows
STOP, START, HELP and confirmations too.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engage.console import queries, web

router = APIRouter()
KEYWORDS = ("other", "stop", "start", "help", "confirm")


@router.get("/inbox")
def inbox(
    request: Request,
    who: web.Staff,
    sessions: web.Sessions,
    keyword: str = "other",
    page: int = 1,
) -> Response:
    chosen = keyword if keyword in KEYWORDS else ""
    with sessions() as session:
        rows = queries.replies(session, min(page, 10_000), keyword=chosen or None)
    return web.render(
        request,
        "inbox.html",
        who,
        title="Inbox",
        rows=rows,
        keyword=chosen,
        keywords=KEYWORDS,
        zone=web.schedule(request).clinic.timezone,
    )
