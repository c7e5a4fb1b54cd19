"""The texts patients sent that no keyword handled (and the keywords, for context), for staff."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from engage.api import errors
from engage.api.params import Db, Staff
from engage.store.inbound import InboundMessage

router = APIRouter(tags=["inbox"], responses=errors.responses(400, 401, 403))


class Inbound(BaseModel):
    id: int
    patient_id: int | None
    from_phone: str
    body: str
    keyword: str
    received_at: datetime


@router.get("/inbox", response_model=list[Inbound], responses=errors.responses(422))
def inbox(
    who: Staff,
    session: Db,
    keyword: Annotated[
        Literal["other", "stop", "start", "help", "confirm"] | None,
        Query(description="Only this keyword (`other`: texts staff should read)."),
    ] = None,
    patient_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Inbound]:
    """The newest inbound texts first."""
    query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if keyword:
        query = query.where(InboundMessage.keyword == keyword)
    if patient_id:
        query = query.where(InboundMessage.patient_id == patient_id)
    return [
        Inbound(
            id=m.id,
            patient_id=m.patient_id,
            from_phone=m.from_phone,
            body=m.body,
            keyword=m.keyword,
            received_at=m.received_at,
        )
        for m in session.scalars(query)
    ]
