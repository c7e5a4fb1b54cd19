"""What a route needs from the process: the runtime's sessions and schedule, settings, a clock.

Kept on `app.state` by `create_app`, so that every route (and the ops engineer's) reads one
set of objects, and tests can hand in their own runtime or clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from engage.rendering.environment import make_environment
from engage.runtime import Runtime
from engage.schedule.models import Schedule
from engage.settings import Settings


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.runtime.settings
    return found


def sessions(request: Request) -> sessionmaker[Session]:
    found: sessionmaker[Session] = request.app.state.runtime.sessions
    return found


def session(request: Request) -> Iterator[Session]:
    """A session for one route call, closed as the route returns (before the answer is sent);
    the services it calls commit their own work."""
    with sessions(request)() as opened:
        yield opened


def clock(request: Request) -> Callable[[], datetime]:
    found: Callable[[], datetime] = request.app.state.clock
    return found


def now(request: Request) -> datetime:
    """The current instant, from the app's clock (tests move it by hand)."""
    return clock(request)()


def schedule(request: Request) -> Schedule:
    found: Schedule = request.app.state.runtime.schedule
    return found


def templates(request: Request) -> Any:
    """The sandboxed template environment, built on first use (previews need it, little else)."""
    state = request.app.state
    if getattr(state, "templates", None) is None:
        state.templates = make_environment(settings(request).templates_dir)
    return state.templates
