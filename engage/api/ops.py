"""Operator routes (role `ops` or `admin`): dead letters, requeue, the status snapshot; and
`GET /metrics` for Prometheus.

/metrics carries no bearer check (Prometheus scrapes it like /health). It reveals counts, not
people, but it does show volumes: expose it only on the internal network Prometheus scrapes
from (the compose file publishes the API's port; put /metrics behind the proxy's allow-list).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, model_validator

from engage.api import deps
from engage.api.auth import Principal, require_role
from engage.api.errors import responses
from engage.errors import InvalidInput
from engage.ops.failed import FailedFilter, FailedMessage, list_failed, requeue, requeue_matching
from engage.ops.metrics import exposition, scrape_registry
from engage.ops.metrics_scrape import BrokerCollector, HeartbeatCollector, OutboxCollector
from engage.ops.since import parse_since
from engage.ops.status import gather

# Row ids are 32-bit on PostgreSQL; strict, so `true` is not message 1.
MessageId = Annotated[int, Field(strict=True, ge=1, le=2_147_483_647)]
router = APIRouter(prefix="/ops", tags=["ops"], responses=responses(400, 401, 403, 422))
metrics_router = APIRouter(tags=["health"])
ops_role = require_role("ops")


class RequeueIn(BaseModel):
    """Either `ids`, or `all: true` narrowed by `reason` and `since`."""

    ids: list[MessageId] = Field(default_factory=list, max_length=10_000)
    all: bool = False
    reason: str | None = Field(default=None, max_length=200)
    since: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_selection(self) -> RequeueIn:
        if bool(self.ids) == self.all:
            raise ValueError("give `ids`, or `all: true` (with `reason`/`since`), not both")
        if self.ids and (self.reason or self.since):
            raise ValueError("`reason` and `since` select messages only with `all: true`")
        return self


class RequeueResultOut(BaseModel):
    message_id: int
    outcome: str  # requeued | refused | not found
    detail: str


class RequeueOut(BaseModel):
    requeued: int
    results: list[RequeueResultOut]


def _since(text: str | None, now: datetime, where: str) -> datetime | None:
    if not text:
        return None
    try:
        return parse_since(text, now, "since")
    except InvalidInput as exc:
        problem = {"loc": [where, "since"], "msg": exc.problem, "type": "value_error"}
        raise HTTPException(422, [problem]) from None


@router.get("/failed", response_model=list[FailedMessage])
def failed_list(
    request: Request,
    since: str | None = Query(None, description="24h, 7d, or an ISO 8601 time.", max_length=64),
    reason: str | None = Query(
        None, description="Reason text, or an exact vendor code.", max_length=200
    ),
    limit: int = Query(200, ge=1, le=5000),
    _: Principal = Depends(ops_role),
) -> list[FailedMessage]:
    """Failed, undelivered and flagged messages with their reasons, most recent first."""
    flt = FailedFilter(_since(since, deps.now(request), "query"), reason or None, limit)
    with deps.sessions(request)() as session:
        rows = list_failed(session, flt)
    return rows


@router.post("/failed/requeue", response_model=RequeueOut)
def failed_requeue(
    request: Request, body: RequeueIn, principal: Principal = Depends(ops_role)
) -> RequeueOut:
    """Requeue messages: due now, audited with the token's name; a delivered one is refused."""
    now = deps.now(request)
    with deps.sessions(request).begin() as session:
        if body.all:
            flt = FailedFilter(_since(body.since, now, "body"), body.reason or None, None)
            results = requeue_matching(session, flt, principal.actor, now)
        else:
            results = requeue(session, body.ids, principal.actor, now)
    return RequeueOut(
        requeued=sum(r.outcome == "requeued" for r in results),
        results=[
            RequeueResultOut(message_id=r.message_id, outcome=r.outcome.value, detail=r.detail)
            for r in results
        ],
    )


@router.get("/status")
def status(request: Request, _: Principal = Depends(ops_role)) -> dict[str, Any]:
    """What `engage status --json` prints: backlog, lateness, channels, queues, liveness."""
    runtime = deps.runtime(request)
    return gather(runtime.settings, runtime.sessions, deps.now(request)).to_json()


@metrics_router.get("/metrics", response_class=Response, include_in_schema=True)
def metrics(request: Request) -> Response:
    """Prometheus text format: this process's counters plus outbox and queue gauges."""
    state = request.app.state
    if getattr(state, "metrics_registry", None) is None:
        runtime = deps.runtime(request)
        state.metrics_registry = scrape_registry(
            OutboxCollector(runtime.sessions, deps.clock(request)),
            BrokerCollector(runtime.settings),
            HeartbeatCollector(runtime.settings, deps.clock(request)),
        )
    body, content_type = exposition(state.metrics_registry)
    return Response(body, media_type=content_type)


ROUTERS = (router, metrics_router)
