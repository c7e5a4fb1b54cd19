"""Sign in and out. The session cookie is HttpOnly, SameSite=Lax, Secure behind https."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from engage.accounts.signin import SignInRefused, sign_in, sign_out
from engage.console import web

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if target.startswith(web.PREFIX + "/") and not target.startswith("//"):
        return target
    return web.PREFIX + "/"


@router.get("/signin")
def signin_page(request: Request, next: str = "", expired: int = 0) -> Response:
    note = "Your session ended. Sign in again to continue." if expired else ""
    return web.render(request, "signin.html", None, next=_safe_next(next), note=note, error="")


@router.post("/signin")
def signin_submit(
    request: Request,
    sessions: web.Sessions,
    now: web.Now,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    # Signing in needs no CSRF token (there is no session yet); SameSite=Lax and the
    # password itself stand in for it.
    source = request.client.host if request.client else "unknown"
    refused: SignInRefused | None = None
    with sessions.begin() as session:  # commits the failure it records, too
        try:
            signed = sign_in(
                session, username, password, source=source, now=now, limits=web.limits(request)
            )
        except SignInRefused as exc:
            refused = exc
    if refused is not None:
        return web.render(
            request,
            "signin.html",
            None,
            401,
            next=_safe_next(next),
            note="",
            error=refused.message,
            username=username,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        web.COOKIE,
        signed.token,
        httponly=True,
        secure=web.secure_cookies(request),
        samesite="lax",
        path="/",
        max_age=int(web.limits(request).absolute.total_seconds()),
    )
    return response


@router.post("/signout")
async def signout(
    request: Request, who: web.Anyone, sessions: web.Sessions, now: web.Now
) -> Response:
    await web.checked(request, who)
    with sessions.begin() as session:
        sign_out(session, request.cookies.get(web.COOKIE, ""), now=now)
    response = RedirectResponse(f"{web.PREFIX}/signin", status_code=303)
    response.delete_cookie(web.COOKIE, path="/")
    return response
