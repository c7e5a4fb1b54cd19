"""Wiring: build the long-lived objects of one process from Settings, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from engage.channels.base import Channel
from engage.channels.registry import build_channels
from engage.delivery.claim import Claimed
from engage.delivery.dispatcher import Dispatcher
from engage.delivery.ratelimit import build_rate_limiter
from engage.delivery.retry import RetryPolicy, SettleWaits
from engage.delivery.sender import Sender
from engage.enrollment.autoresume import PauseEnder
from engage.ops.heartbeat import heartbeat
from engage.rendering.environment import make_environment
from engage.schedule.loader import load_schedule
from engage.schedule.models import Schedule
from engage.settings import Settings
from engage.store.db import make_engine, session_factory


@dataclass
class Runtime:
    """Lazily built, per-process: each forked worker builds its own engine and pools."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        # Every task thread of a worker may hold a connection at once (SQLAlchemy's default
        # pool is 5 + 10 overflow; a thread beyond that would wait for one).
        return make_engine(
            self.settings.database_url, pool_size=self.settings.send_concurrency, max_overflow=10
        )

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def schedule(self) -> Schedule:
        return load_schedule(self.settings.schedule_path)

    @cached_property
    def channels(self) -> dict[str, Channel]:
        return build_channels(self.settings)

    @cached_property
    def sender(self) -> Sender:
        return Sender(
            sessions=self.sessions,
            schedule=self.schedule,
            env=make_environment(self.settings.templates_dir),
            channels=self.channels,
            limiter=build_rate_limiter(self.settings),
            policy=RetryPolicy(
                max_attempts=self.settings.max_attempts,
                horizon=timedelta(hours=self.settings.retry_horizon_hours),
            ),
            alert_after=timedelta(seconds=self.settings.critical_alert_after_seconds),
            public_url=self.settings.public_url,
            signing_secret=self.settings.signing_secret,
            calls=self.settings.provider_calls,  # threads start on demand
            lease=timedelta(seconds=self.settings.send_lease_seconds),
            settle=self.settle,
        )

    @property
    def settle(self) -> SettleWaits:
        return SettleWaits(
            sms=timedelta(seconds=self.settings.sms_settle_seconds),
            email=timedelta(seconds=self.settings.email_settle_seconds),
        )

    @property
    def stuck_after(self) -> timedelta:
        return timedelta(seconds=self.settings.stuck_after_seconds)

    def dispatcher(self, enqueue: Callable[[list[Claimed]], None]) -> Dispatcher:
        """The dispatcher of this process; `enqueue` publishes (the Celery side supplies it)."""
        return Dispatcher(
            self.sessions,
            enqueue,
            batch_size=self.settings.dispatch_batch_size,
            stuck_after=self.stuck_after,
            max_in_flight=self.settings.max_in_flight,
            settle=self.settle,
            on_tick=_both(
                lambda: heartbeat(self.settings), PauseEnder(self.sessions, self.schedule)
            ),
        )


def _both(first: Callable[[], object], second: Callable[[], object]) -> Callable[[], None]:
    """One tick callback doing two things (liveness, then ending pauses whose date has come)."""

    def run() -> None:
        first()
        second()

    return run
