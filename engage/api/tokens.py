"""Admin routes for API tokens: list, create (the clear token is in that one answer), revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from engage.api import errors
from engage.api.fields import Id
from engage.api.params import READ, Admin, Db, Now, Sessions
from engage.store.tokens import ApiToken, Role, create_token, list_tokens, revoke_token

router = APIRouter(tags=["tokens"], responses=errors.responses(400, 401, 403))


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64, examples=["front-desk"])
    role: Role


class TokenOut(BaseModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            role=Role(token.role),
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token. Shown only in this answer: store it now.")


@router.get("/tokens", response_model=list[TokenOut])
def get_tokens(who: Admin, session: Db) -> list[TokenOut]:
    return [TokenOut.of(t) for t in list_tokens(session)]


@router.post(
    "/tokens", status_code=201, response_model=TokenCreated, responses=errors.responses(422)
)
def post_token(body: TokenCreate, who: Admin, sessions: Sessions, now: Now) -> TokenCreated:
    with sessions.begin() as session:
        row, raw = create_token(session, name=body.name, role=body.role, actor=who.actor, now=now)
        return TokenCreated(**TokenOut.of(row).model_dump(), token=raw)


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, responses=READ)
def post_revoke(token_id: Id, who: Admin, sessions: Sessions, now: Now) -> TokenOut:
    with sessions.begin() as session:
        return TokenOut.of(revoke_token(session, token_id, actor=who.actor, now=now))
