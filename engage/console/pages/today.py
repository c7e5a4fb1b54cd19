"""Today: the front desk's worklist, clinic times in the clinic's zone.

Staff resolve a flagged message here (engage.ops.worklist.resolve, as the API and CLI do): the
note, who and when are kept in the audit trail and shown under "Resolved today".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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
    start, tomorrow, after = queries.clinic_days(now, plan.clinic.timezone)
    with sessions() as session:
        replies = queries.replies(session, 1)
        shown: dict[str, Any] = {
            "flagged": queries.flagged(session),
            "resolved": queries.resolved_since(session, start),
            "failed": queries.failures(session, now - timedelta(days=7)),
            "replies": replies.rows[:10],
            "more_replies": replies.has_next or len(replies.rows) > 10,
            "days": [
                ("Today", queries.appointments_between(session, start, tomorrow)),
                ("Tomorrow", queries.appointments_between(session, tomorrow, after)),
            ],
        }
    page = web.render(
        request, "today.html", who, title="Today", day=start, **shown, done=done[:200]
    )
    return page


@router.post("/flagged/{message_id}/resolve")
async def resolve(message_id: int, d: web.StaffDesk) -> Response:
    """Staff called the patient: reached or could not reach, with what was done."""
    form = await web.checked(d.request, d.who)
    outcome, note = str(form.get("resolution", "")), str(form.get("note", ""))
    try:
        with d.sessions.begin() as session:
            worklist.resolve(session, message_id, outcome, note, actor=d.who.actor, now=d.now)
    except (InvalidInput, NotFound, Conflict) as exc:
        return problem_page(d.request, d.who, exc)
    return RedirectResponse(f"{web.PREFIX}/?done=Resolved%3A+the+note+is+kept.", 303)
