"""Today: the front desk's worklist, clinic times in the clinic's zone.

Staff resolve a flagged message here (engage.ops.worklist.resolve, as the API and CLI do): the
note, who and when are kept in the audit trail and shown under "Resolved today".
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engage.console import queries, web
from engage.console.app_errors import problem_page
from engage.errors import Conflict, InvalidInput, NotFound
from engage.ops import worklist

router = APIRouter()


@router.get("/")
def home(
    request: Request,
    who: web.Anyone,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
    done: str = "",
) -> Response:
    """Today for staff and admins; an operator's home is Operations."""
    if not who.may("staff"):
        return RedirectResponse(f"{web.PREFIX}/operations", 303)
    return today(request, who, sessions, plan, now, done)


def today(
    request: Request,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
    done: str = "",
) -> Response:
    zone = plan.clinic.timezone
    start, tomorrow, after = queries.clinic_days(now, zone)
    with sessions() as session:
        flagged = queries.flagged(session)
        resolved = queries.resolved_since(session, start)
        failed = queries.failures(session, now - timedelta(days=7))
        replies = queries.replies(session, 1)
        todays = queries.appointments_between(session, start, tomorrow)
        tomorrows = queries.appointments_between(session, tomorrow, after)
    return web.render(
        request,
        "today.html",
        who,
        title="Today",
        zone=zone,
        day=start,
        flagged=flagged,
        resolved=resolved,
        failed=failed,
        replies=replies.rows[:10],
        more_replies=replies.has_next or len(replies.rows) > 10,
        days=[("Today", todays), ("Tomorrow", tomorrows)],
        done=done[:200],
    )


@router.post("/flagged/{message_id}/resolve")
async def resolve(
    request: Request, message_id: int, who: web.Staff, sessions: web.Sessions, now: web.Now
) -> Response:
    """Staff called the patient: reached or could not reach, with what was done."""
    form = await web.checked(request, who)
    try:
        with sessions.begin() as session:
            worklist.resolve(
                session,
                message_id,
                str(form.get("resolution", "")),
                str(form.get("note", "")),
                actor=who.actor,
                now=now,
            )
    except (InvalidInput, NotFound, Conflict) as exc:
        return problem_page(request, who, exc)
    return RedirectResponse(f"{web.PREFIX}/?done=Resolved%3A+the+note+is+kept.", 303)
