"""Creating, listing and disabling console users; every change is audited."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.accounts.passwords import hash_password, weakness
from engage.errors import Conflict, InvalidInput, NotFound
from engage.store.audit import audit_change
from engage.store.base import utcnow
from engage.store.tokens import Role
from engage.store.users import User, UserSession

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    actor: str,
    display_name: str = "",
    now: datetime | None = None,
) -> User:
    """Store a new user; InvalidInput names the bad field, Conflict a taken username."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise InvalidInput("username", "1-64 of a-z, 0-9, '.', '_', '-', starting with a letter")
    problem = weakness(password)
    if problem:
        raise InvalidInput("password", problem)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username: {username!r} is taken")
    user = User(
        username=username,
        display_name=(display_name.strip() or username)[:100],
        role=role,
        password_hash=hash_password(password),
        created_at=now or utcnow(),
    )
    session.add(user)
    session.flush()
    audit_change(
        session,
        user,
        "user.create",
        actor=actor,
        after={"username": username, "role": role},
        at=now,
    )
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session) -> int:
    return len(list(session.scalars(select(User.id).limit(1))))


def disable_user(session: Session, username: str, *, actor: str, now: datetime) -> User:
    """Disable a user and end their sessions (disabling twice changes nothing)."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"user {username!r} not found")
    if user.disabled_at is None:
        user.disabled_at = now
        for open_session in session.scalars(
            select(UserSession).where(
                UserSession.user_id == user.id, UserSession.ended_at.is_(None)
            )
        ):
            open_session.ended_at = now
        audit_change(
            session,
            user,
            "user.disable",
            actor=actor,
            before={"disabled_at": None},
            after={"disabled_at": now},
            at=now,
        )
    return user
