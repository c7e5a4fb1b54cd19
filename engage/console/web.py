"""What every console page needs: the process's objects, the signed-in user, CSRF, rendering."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from engage.accounts.signin import Limits, current
from engage.console import timefmt
from engage.console.consentform import source_words
from engage.patients.rows import shown_phone
from engage.rendering.environment import make_environment
from engage.runtime import Runtime
from engage.schedule.models import Schedule
from engage.schedule.zones import COMMON
from engage.settings import Settings
from engage.store.tokens import Role

COOKIE = "engage_session"
PREFIX = "/console"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters.update(
    local=timefmt.local,
    zone_label=timefmt.zone_label,
    when=timefmt.when,
    ord=ord,
    phone=shown_phone,
    source=source_words,
)
TEMPLATES.env.globals["common_zones"] = COMMON


class NeedSignIn(Exception):
    """No live session: the handler sends the browser to the sign-in page."""

    def __init__(self, next_url: str, expired: bool) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.expired = expired


class Refused(Exception):
    """A request the console will not serve; `status`, a title and what to do next."""

    def __init__(self, status: int, title: str, next_step: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.next_step = next_step


# (runtime, clock, journal id, actor) -> (the dead letter's new state, its reason): engage.hl7's.
Hl7Reapply = Callable[[Runtime, Callable[[], datetime], int, str], tuple[str, str]]


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def settings(request: Request) -> Settings:
    return runtime(request).settings


def sessions(request: Request) -> sessionmaker[Session]:
    return runtime(request).sessions


def schedule(request: Request) -> Schedule:
    return runtime(request).schedule


def now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def template_env(request: Request) -> Any:
    """The sandboxed message-template environment, built once per app on first use."""
    state = request.app.state
    if getattr(state, "console_env", None) is None:
        state.console_env = make_environment(settings(request).templates_dir)
    return state.console_env


def limits(request: Request) -> Limits:
    s = settings(request)
    return Limits(
        idle=timedelta(minutes=s.console_idle_minutes),
        absolute=timedelta(hours=s.console_session_hours),
        per_account=s.login_failures_per_account,
        per_source=s.login_failures_per_source,
    )


def secure_cookies(request: Request) -> bool:
    """Secure behind https: the request's own scheme, or the public URL the clinic uses."""
    return request.url.scheme == "https" or settings(request).public_url.startswith("https:")


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of this request."""

    user_id: int
    username: str
    display_name: str
    role: Role
    csrf_token: str
    actor: str  # how the audit log names them: console:<username>

    def may(self, role: str) -> bool:
        return self.role == Role.ADMIN or self.role == Role(role)


POLL_HEADER = "x-engage-poll"


def polled(request: Request) -> bool:
    """A page refreshing itself (htmx `every`, marked with POLL_HEADER): it neither restarts the
    idle clock (screens show PHI: a page left open must still time out) nor writes at all."""
    return request.headers.get(POLL_HEADER) == "1"


def viewer(request: Request) -> Viewer:
    """The user behind the session cookie, or NeedSignIn (the idle clock restarts here)."""
    return _viewer(request, touch=not polled(request))


def watcher(request: Request) -> Viewer:
    """The viewer of a status page (a running job's): it reads only, never restarting the idle
    clock, so it still answers while a long import holds SQLite's one writer."""
    return _viewer(request, touch=False)


def _viewer(request: Request, *, touch: bool) -> Viewer:
    token = request.cookies.get(COOKIE, "")
    with sessions(request).begin() as session:
        found = current(session, token, now=now(request), limits=limits(request), touch=touch)
        if found is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise NeedSignIn(target, expired=bool(token))
        user = found.user
        actor = f"console:{user.username}"[:64]
        return Viewer(user.id, user.username, user.display_name, user.role, found.csrf_token, actor)


def require(role: str, *, watching: bool = False) -> Callable[..., Viewer]:
    """A dependency: the viewer, if their role may open this page (admin may open all);
    `watching`: a status page, read without restarting the idle clock (see `watcher`)."""

    def allowed(who: Viewer) -> Viewer:
        if not who.may(role):
            raise Refused(
                403,
                f"This page is for the {role} role",
                f"You are signed in as {who.username} ({who.role}). Ask an admin for access, "
                "or go back to Today.",
            )
        return who

    # Annotations name module-level dependencies: FastAPI resolves them from the globals.
    def watched(who: Annotated[Viewer, Depends(watcher)]) -> Viewer:
        return allowed(who)

    def seen(who: Annotated[Viewer, Depends(viewer)]) -> Viewer:
        return allowed(who)

    return watched if watching else seen


async def checked(request: Request, who: Viewer) -> dict[str, Any]:
    """The form of a state-changing request, once its CSRF token matches the session's."""
    form = dict((await request.form()).items())
    sent = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
    if not secrets.compare_digest(sent.encode(), who.csrf_token.encode()):
        raise Refused(
            403,
            "This form has expired",
            "It was missing its security token or came from another site. Go back, reload "
            "the page and submit it again.",
        )
    return {k: v if not isinstance(v, str) else v.strip() for k, v in form.items()}


def step_about(plan: Schedule) -> Callable[[str, str], str]:
    """What a step is for, in the schedule's own words: staff read "Three days before the first
    infusion, the full preparation", not the step's id alone ("" for a step no longer there)."""

    def about(sequence: str, step: str) -> str:
        found = plan.sequences.get(sequence)
        steps = found.steps if found is not None else ()
        return next((s.description for s in steps if s.id == step), "")

    return about


def render(
    request: Request, name: str, who: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    plan = schedule(request)
    base = {"who": who, "clinic": plan.clinic, "prefix": PREFIX, "zone": plan.clinic.timezone}
    return TEMPLATES.TemplateResponse(
        request,
        name,
        # Clinic things are in the clinic's zone unless the page names another (a patient's).
        base | {"about": step_about(plan)} | context,
        status_code=status,
    )


def signin_url(next_url: str, expired: bool = False) -> str:
    extra = "&expired=1" if expired else ""
    return f"{PREFIX}/signin?next={quote(next_url, safe='')}{extra}"


Staff = Annotated[Viewer, Depends(require("staff"))]
StaffWatching = Annotated[Viewer, Depends(require("staff", watching=True))]
Ops = Annotated[Viewer, Depends(require("ops"))]
Admin = Annotated[Viewer, Depends(require("admin"))]
Anyone = Annotated[Viewer, Depends(viewer)]
Sessions = Annotated[sessionmaker[Session], Depends(sessions)]
Plan = Annotated[Schedule, Depends(schedule)]
Now = Annotated[datetime, Depends(now)]
Env = Annotated[Any, Depends(template_env)]


@dataclass(frozen=True)
class Desk:
    """What a staff page that plans or changes a patient's messages needs, as one dependency:
    the request, who is signed in, the database, the schedule and the clock's now."""

    request: Request
    who: Viewer
    sessions: sessionmaker[Session]
    plan: Schedule
    now: datetime

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, name, self.who, status, **context)


def desk(request: Request, who: Staff, sessions: Sessions, plan: Plan, now: Now) -> Desk:
    return Desk(request, who, sessions, plan, now)


StaffDesk = Annotated[Desk, Depends(desk)]
