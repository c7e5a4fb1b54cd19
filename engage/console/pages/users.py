"""Users (admin): who may sign in, in which role; create and disable (audited by name)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engage.accounts.users import create_user, disable_user, list_users
from engage.console import web
from engage.errors import Conflict, InvalidInput, NotFound
from engage.store.tokens import Role

router = APIRouter()


def _page(request: Request, who: web.Viewer, status: int = 200, **extra: object) -> Response:
    with web.sessions(request)() as session:
        users = list_users(session)
    context = {"values": {}, "errors": {}, "done": ""} | extra
    return web.render(
        request,
        "users.html",
        who,
        status,
        title="Users",
        users=users,
        roles=[r.value for r in Role],
        **context,
    )


@router.get("/users")
def users(request: Request, who: web.Admin, done: str = "") -> Response:
    return _page(request, who, done=done[:200])


@router.post("/users")
async def create(
    request: Request, who: web.Admin, sessions: web.Sessions, now: web.Now
) -> Response:
    form = await web.checked(request, who)
    try:
        role = Role(str(form.get("role", "")))
        with sessions.begin() as session:
            user = create_user(
                session,
                username=str(form.get("username", "")),
                password=str(form.get("password", "")),
                role=role,
                actor=who.actor,
                display_name=str(form.get("display_name", "")),
                now=now,
            )
    except ValueError:
        return _page(request, who, 422, values=form, errors={"role": "choose a role"})
    except InvalidInput as exc:
        return _page(request, who, 422, values=form, errors={exc.field: exc.problem})
    except Conflict as exc:
        return _page(
            request, who, 422, values=form, errors={"username": str(exc).split(": ", 1)[-1]}
        )
    return RedirectResponse(f"{web.PREFIX}/users?done=User {user.username} created.", 303)


@router.post("/users/{username}/disable")
async def disable(
    request: Request, username: str, who: web.Admin, sessions: web.Sessions, now: web.Now
) -> Response:
    await web.checked(request, who)
    if username == who.username:
        raise web.Refused(400, "You cannot disable yourself", "Ask another admin to do it.")
    try:
        with sessions.begin() as session:
            disable_user(session, username, actor=who.actor, now=now)
    except NotFound as exc:
        raise web.Refused(404, str(exc), "Go back to the list of users.") from None
    return RedirectResponse(f"{web.PREFIX}/users?done=User {username} disabled.", 303)
