"""Inbox: texts patients sent, newest first, with the patient to open and "mark handled".

By default the replies no keyword handled and nobody has marked handled (what a person must
still read); the filters show handled ones (who and when) and STOP, START, HELP and
confirmations too. Marking is engage.ops.worklist.mark_handled, which the API can call as well.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engage.console import queries, web
from engage.console.app_errors import problem_page
from engage.errors import Conflict, NotFound
from engage.ops import worklist

router = APIRouter()
KEYWORDS = ("other", "stop", "start", "help", "confirm")
SHOWN = {"": None, "unhandled": False, "handled": True}


@router.get("/inbox")
def inbox(
    request: Request,
    who: web.Staff,
    sessions: web.Sessions,
    keyword: str = "other",
    shown: str = "unhandled",
    page: int = 1,
    done: str = "",
) -> Response:
    chosen = keyword if keyword in KEYWORDS else ""
    shown = shown if shown in SHOWN else ""
    with sessions() as session:
        rows = queries.replies(
            session, min(page, 10_000), keyword=chosen or None, handled=SHOWN[shown]
        )
    filters: dict[str, Any] = {"keyword": chosen, "shown": shown}
    return web.render(
        request, "inbox.html", who, title="Inbox", rows=rows, keywords=KEYWORDS, done=done[:200],
        here=urlencode(filters), **filters,
    )  # fmt: skip


@router.post("/inbox/{inbound_id}/handled")
async def mark_handled(inbound_id: int, d: web.StaffDesk) -> Response:
    form = await web.checked(d.request, d.who)
    try:
        with d.sessions.begin() as session:
            worklist.mark_handled(session, inbound_id, actor=d.who.actor, now=d.now)
    except (NotFound, Conflict) as exc:
        return problem_page(d.request, d.who, exc)
    back = {
        "keyword": str(form.get("keyword", "other"))[:16],
        "shown": str(form.get("shown", "unhandled"))[:16],
        "done": "Marked handled.",
    }
    return RedirectResponse(f"{web.PREFIX}/inbox?{urlencode(back)}", 303)
