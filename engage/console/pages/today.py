"""Today: the front desk's worklist, clinic times in the clinic's zone."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engage.console import queries, web

router = APIRouter()


@router.get("/")
def home(
    request: Request, who: web.Anyone, sessions: web.Sessions, plan: web.Plan, now: web.Now
) -> Response:
    """Today for staff and admins; an operator's home is Operations."""
    if not who.may("staff"):
        return RedirectResponse(f"{web.PREFIX}/operations", 303)
    return today(request, who, sessions, plan, now)


def today(
    request: Request, who: web.Staff, sessions: web.Sessions, plan: web.Plan, now: web.Now
) -> Response:
    zone = plan.clinic.timezone
    start, tomorrow, after = queries.clinic_days(now, zone)
    with sessions() as session:
        flagged = queries.flagged(session)
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
        failed=failed,
        replies=replies.rows[:10],
        more_replies=replies.has_next or len(replies.rows) > 10,
        days=[("Today", todays), ("Tomorrow", tomorrows)],
    )
