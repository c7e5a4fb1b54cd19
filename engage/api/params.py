"""What routes declare, typed once: the caller's role, the sessions, the schedule, the clock.

One `Staff` dependency for every staff route (FastAPI resolves it once per request), and one base
for request bodies: unknown fields are refused (a typo is a 422, not silently ignored) and
strings are stripped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.types import DecoratedCallable
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session, sessionmaker

from engage.api import deps, errors
from engage.api.auth import Principal, require_role
from engage.schedule.models import Schedule

Staff = Annotated[Principal, Depends(require_role("staff"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]  # a route's own transaction
Db = Annotated[Session, Depends(deps.session, scope="function")]  # closed as the route returns
Plan = Annotated[Schedule, Depends(deps.schedule)]
Templates = Annotated[Any, Depends(deps.templates)]
Now = Annotated[Any, Depends(deps.now)]
READ = errors.responses(404, 422)  # what a route that reads a record (or a patient's) may answer
WRITE = errors.responses(404, 409, 422)  # what a route that changes a record may answer


def creates(
    router: APIRouter, path: str, model: Any
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The route that creates a record of a patient's: 201 with `model`, and a write's answers."""
    return router.post(path, status_code=201, response_model=model, responses=WRITE)


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
