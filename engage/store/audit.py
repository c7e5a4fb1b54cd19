"""The audit log: who changed what, with the values before and after."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Protocol, TypedDict, Unpack

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from engage.store.base import Base, UTCDateTime, utcnow


class AuditLog(Base):
    """One write by a person or a process. Values hold ids and states, never message bodies."""

    __tablename__ = "audit_log"
    # A record's history (the console's consent ledger and patient pages) without a scan.
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "cli", "api:<user>", "worker", "twilio", ...
    action: Mapped[str] = mapped_column(String(64))  # "enrollment.create", "appointment.move", ...
    entity: Mapped[str] = mapped_column(String(32))  # table name
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Values(TypedDict, total=False):
    """What an audit row says of the change, each part optional: the values before and after
    (ids and states, never message bodies), and when (now unless given)."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime | None


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    **values: Unpack[Values],
) -> AuditLog:
    """Add an audit row to the session's current transaction (it commits with the change)."""
    row = AuditLog(
        at=values.get("at") or utcnow(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=_jsonable(values.get("before")),
        after=_jsonable(values.get("after")),
    )
    session.add(row)
    return row


class _Record(Protocol):
    """A stored row: its table names the entity, its id the entity id."""

    __tablename__: Any

    @property
    def id(self) -> int: ...


def audit_change(
    session: Session, record: _Record, action: str, *, actor: str, **values: Unpack[Values]
) -> AuditLog:
    """`audit` of a change of one stored row, which names the entity (its table) and its id."""
    entity = record.__tablename__
    return audit(session, actor=actor, action=action, entity=entity, entity_id=record.id, **values)


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    # Datetimes become ISO text and enums their value, so JSON columns accept them everywhere.
    if values is None:
        return None
    return {key: _plain(value) for key, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
