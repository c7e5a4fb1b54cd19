"""Bearer tokens and roles: who is calling, and may they call this route?

`require_role("staff")` is the dependency every protected router declares; admin tokens pass
every role check. A missing, unknown or revoked token is 401; a valid token of another role is
403. Webhooks and health declare no such dependency: providers sign their requests instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engage.api import deps
from engage.store.tokens import Role, find_active

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `engage tokens create --role staff|ops|admin --name NAME`.",
)


@dataclass(frozen=True)
class Principal:
    """The token a request came with; `actor` is how the audit log names it."""

    token_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"api:{self.name}"[:64]


def _unauthorized(why: str) -> HTTPException:
    return HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("missing bearer token")
    with deps.sessions(request)() as session:
        token = find_active(session, credentials.credentials)
    if token is None:
        raise _unauthorized("unknown or revoked token")
    return Principal(token.id, token.name, Role(token.role))


def require_role(*roles: str) -> Callable[..., Principal]:
    """A dependency that lets through tokens of one of `roles` (or admin), else 401/403."""
    allowed = frozenset(Role(role) for role in roles) | {Role.ADMIN}
    names = " or ".join(sorted(allowed))

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        principal = authenticate(request, credentials)
        if principal.role not in allowed:
            raise HTTPException(403, f"this route needs the role {names}, not {principal.role}")
        return principal

    return dependency
