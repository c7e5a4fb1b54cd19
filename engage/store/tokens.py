"""API bearer tokens: who may call the HTTP API, in which role. Only a hash is ever stored.

A token is shown once, when it is created; the database keeps its SHA-256, so a copy of the
database grants no access. Revoking keeps the row (the audit log names tokens by id).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engage.errors import NotFound
from engage.store.audit import audit_change
from engage.store.base import Base, UTCDateTime, str_enum, utcnow

TOKEN_PREFIX = "eng_"  # lets secret scanners and people recognise a leaked engage token


class Role(StrEnum):
    STAFF = "staff"  # patients, enrollments, appointments, timelines, imports
    OPS = "ops"  # queues, failures, requeue
    ADMIN = "admin"  # tokens, and everything the other roles may do


class ApiToken(Base):
    """One bearer token of the HTTP API."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(raw: str) -> str:
    """The stored form of a token: it carries 256 random bits, so no salt or slow hash is needed."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    session: Session, *, name: str, role: Role, actor: str, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """Store a new token and return it with its clear text, which nobody can read again."""
    raw = new_token()
    row = ApiToken(name=name, role=role, token_hash=hash_token(raw), created_at=now or utcnow())
    session.add(row)
    session.flush()
    audit_change(
        session, row, "token.create", actor=actor, after={"name": name, "role": role}, at=now
    )
    return row, raw


def find_active(session: Session, raw: str) -> ApiToken | None:
    """The unrevoked token whose clear text is `raw`, if any."""
    query = select(ApiToken).where(
        ApiToken.token_hash == hash_token(raw), ApiToken.revoked_at.is_(None)
    )
    return session.execute(query).scalar_one_or_none()


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.id)).scalars())


def revoke_token(
    session: Session, token_id: int, *, actor: str, now: datetime | None = None
) -> ApiToken:
    """Revoke a token (revoking twice changes nothing); NotFound for an unknown id."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        audit_change(
            session,
            row,
            "token.revoke",
            actor=actor,
            before={"revoked_at": None},
            after={"revoked_at": row.revoked_at},
            at=now,
        )
    return row
