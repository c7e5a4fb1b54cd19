"""Operations (ops role): what `engage status` shows, dead letters with requeue, self-refreshing."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engage.console import web
from engage.ops.failed import FailedFilter, Outcome, list_failed, requeue
from engage.ops.status import gather

router = APIRouter()


@router.get("/operations")
def operations(
    request: Request,
    who: web.Ops,
    sessions: web.Sessions,
    now: web.Now,
    reason: str = "",
    done: str = "",
) -> Response:
    snapshot = gather(web.settings(request), sessions, now, ping_timeout=0.5)
    with sessions() as session:
        dead = list_failed(session, FailedFilter(reason=reason[:100] or None, limit=100))
    name = "operations_live.html" if request.headers.get("hx-request") else "operations.html"
    return web.render(
        request,
        name,
        who,
        title="Operations",
        s=snapshot,
        dead=dead,
        reason=reason,
        done=done,
    )


@router.post("/operations/requeue")
async def requeue_dead(
    request: Request, who: web.Ops, sessions: web.Sessions, now: web.Now
) -> Response:
    form = await web.checked(request, who)
    raw = form.get("ids", "")
    ids = [int(part) for part in str(raw).replace(",", " ").split() if part.isdigit()][:500]
    if not ids:
        raise web.Refused(400, "No message chosen", "Go back and tick the messages to requeue.")
    with sessions.begin() as session:
        results = requeue(session, ids, who.actor, now)
    requeued = sum(1 for r in results if r.outcome == Outcome.REQUEUED)
    refused = [r.line() for r in results if r.outcome != Outcome.REQUEUED]
    note = f"{requeued} requeued" + (f"; refused: {'; '.join(refused)}" if refused else "")
    return RedirectResponse(f"{web.PREFIX}/operations?done={quote(note[:300])}", 303)
