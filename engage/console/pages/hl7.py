"""HL7 feed: the dead letters (messages answered AE) for staff and operators to fix.

Read from the journal table. Operators re-apply a dead letter once its cause is fixed: the
button calls the feed's own service (engage.hl7.intake.reapply, which audits it), handed to the
console by engage.asgi because front doors never import each other.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engage.console import queries, web
from engage.console.app_errors import problem_page
from engage.errors import Conflict, NotFound

router = APIRouter()


@router.get("/hl7")
def hl7_page(
    request: Request, who: web.Anyone, sessions: web.Sessions, page: int = 1, done: str = ""
) -> Response:
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
        done=done[:300],
    )


@router.post("/hl7/{journal_id}/reapply")
async def reapply(request: Request, journal_id: int, who: web.Ops) -> Response:
    """Apply a dead letter again, as when it was received; it stays one if still unfixable."""
    await web.checked(request, who)
    service: web.Hl7Reapply | None = request.app.state.hl7_reapply
    if service is None:
        raise web.Refused(
            501, "Re-applying is not available here", "Run `engage hl7 failed reapply ID`."
        )
    try:
        clock = request.app.state.clock
        state, reason = service(web.runtime(request), clock, journal_id, who.actor)
    except (NotFound, Conflict) as exc:
        return problem_page(request, who, exc)
    if state == "failed":
        note = f"Message {journal_id} is still a dead letter: {reason}"
    else:
        note = f"Message {journal_id} re-applied: {state}."
    return RedirectResponse(f"{web.PREFIX}/hl7?done={quote(note[:300])}", 303)
