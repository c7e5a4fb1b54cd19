"""HL7 feed: the dead letters (messages answered AE) for staff and operators to fix.

Read from the journal table; re-applying stays `engage hl7 failed reapply ID` (engage.hl7's
intake: the console and the feed are independent front doors, so the page names the command).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engage.console import queries, web

router = APIRouter()


@router.get("/hl7")
def hl7_page(request: Request, who: web.Anyone, sessions: web.Sessions, page: int = 1) -> Response:
    with sessions() as session:
        feed = queries.hl7_feed(session)
        rows = queries.hl7_dead_letters(session, max(1, min(page, 10_000)))
    return web.render(
        request,
        "hl7.html",
        who,
        title="HL7 feed",
        feed=feed,
        rows=rows,
        zone=web.schedule(request).clinic.timezone,
    )
