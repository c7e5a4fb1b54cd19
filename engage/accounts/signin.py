"""Signing in and out, and finding the user behind a session cookie.

Failed sign-ins are throttled per account and per source address over a 15-minute window:
past the limit every attempt is refused (even with the right password) until the window
moves on, so guessing costs hours, and a person locked out is told how long to wait.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.accounts.passwords import verify
from engage.store.audit import audit_change
from engage.store.users import LoginFailure, User, UserSession

WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Limits:
    """How long a session lives, and how many failures the window allows."""

    idle: timedelta
    absolute: timedelta
    per_account: int
    per_source: int


class SignInRefused(Exception):
    """Wrong username or password, or too many failures; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SignedIn:
    """What the cookie carries (`token`, shown once) and the session's CSRF token."""

    token: str
    csrf_token: str
    user: User


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _failures(session: Session, column: object, value: str, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(LoginFailure.id)).where(
                column == value,  # type: ignore[arg-type]
                LoginFailure.at > now - WINDOW,
            )
        )
        or 0
    )


def sign_in(
    session: Session, username: str, password: str, *, source: str, now: datetime, limits: Limits
) -> SignedIn:
    """Check the password and open a session in the caller's transaction, or SignInRefused.

    A refusal has added its LoginFailure row: the caller commits it all the same.
    """
    username = username.strip().lower()[:64]
    source = source[:64]
    if (
        _failures(session, LoginFailure.username, username, now) >= limits.per_account
        or _failures(session, LoginFailure.source, source, now) >= limits.per_source
    ):
        raise SignInRefused("Too many failed sign-ins. Wait 15 minutes, or ask an admin.")
    user = session.scalar(select(User).where(User.username == username))
    ok = verify(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled_at is not None:
        session.add(LoginFailure(at=now, username=username, source=source))
        raise SignInRefused("Wrong username or password.")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_digest(token),
            csrf_token=csrf,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
        )
    )
    audit_change(session, user, "user.sign-in", actor=user.actor, at=now)
    return SignedIn(token, csrf, user)


def current(
    session: Session, token: str, *, now: datetime, limits: Limits, touch: bool = True
) -> UserSession | None:
    """The live session behind a cookie (its idle clock restarted unless `touch` is False: a
    page refreshing itself is not the user at the screen), or None when it is over."""
    if not token:
        return None
    found = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
    if found is None or found.ended_at is not None or found.user.disabled_at is not None:
        return None
    if now - found.last_seen_at > limits.idle or now - found.created_at > limits.absolute:
        found.ended_at = now
        return None
    if touch:
        found.last_seen_at = now
    return found


def sign_out(session: Session, token: str, *, now: datetime) -> None:
    found = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
    if found is not None and found.ended_at is None:
        found.ended_at = now
        audit_change(session, found.user, "user.sign-out", actor=found.user.actor, at=now)
