"""The broker and its queues: one definition that workers, dispatchers and status pages share.

The broker comes from ENGAGE_BROKER_URL (Redis in production; RabbitMQ works too). Empty means
the embedded mode: kombu's filesystem transport under var/broker, so `make run` needs no server
yet tasks travel the same path as in production. `workers.app` builds its Celery app here; engage
never imports `workers`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kombu.entity import Exchange, Queue

from engage.ops.redis_transport import TRANSPORT as REDIS_TRANSPORT
from engage.settings import Settings

if TYPE_CHECKING:  # imported by make_celery: `engage status` reads the broker with kombu alone
    from celery import Celery

QUEUES = ("dispatch", "sms", "email")

# A broker that restarts or drops us must be noticed and reconnected within seconds: Redis
# pings an idle connection every 10 s and gives up connecting after 5 s (then kombu retries);
# RabbitMQ heartbeats every 10 s. Numbers kept small because every worker must be consuming
# again within 10 s of the broker coming back.
REDIS_RESILIENCE: dict[str, Any] = {
    "health_check_interval": 10,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "retry_on_timeout": True,
}
AMQP_HEARTBEAT_SECONDS = 10


def visibility_timeout(settings: Settings) -> int:
    """Seconds before Redis hands an unacked task to another worker (kombu looks every 10 s).

    It is the only way a task a killed worker had taken, but not yet started on, comes back (a
    few hundred milliseconds under load; afterwards the outbox lease covers its rows). A live
    worker's long task handed out again is harmless: the copy finds its rows held by that
    worker's lease, skips them and is acked. Two leases, and never under a minute.
    """
    return max(60, int(2 * settings.send_lease_seconds))


def broker_options(settings: Settings) -> tuple[str, dict[str, object]]:
    """The broker URL and its transport options for these settings."""
    url = settings.broker_url
    if url.startswith(("redis://", "rediss://")):
        return url, {"visibility_timeout": visibility_timeout(settings), **REDIS_RESILIENCE}
    if url:
        return url, {}
    folder = Path("var/broker").resolve()
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    (folder / "processed").mkdir(parents=True, exist_ok=True)
    # A host in the URL, though the transport ignores it: without one kombu warns on every
    # connection. The control folder (exchange tables) defaults to ./control: keep it in var/.
    return "filesystem://localhost//", {
        "control_folder": str(folder / "control"),
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


def broker_transport(url: str) -> str | None:
    """The kombu transport for a broker URL: Redis through our fixed one (see
    engage.ops.redis_transport), others as the URL says."""
    return REDIS_TRANSPORT if url.startswith(("redis://", "rediss://")) else None


def _connection_settings() -> dict[str, Any]:
    """How a worker behaves when the broker goes away: reconnect for ever, never exit quietly."""
    return {
        "broker_connection_retry": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a broker down for an hour is waited for
        "broker_connection_timeout": 5,
        "broker_heartbeat": AMQP_HEARTBEAT_SECONDS,
        # Kept off on purpose: the threads and gevent pools cannot cancel a running task
        # (terminate_job raises NotImplementedError, which would end the worker). A task that
        # outlives its connection finishes; its ack is lost, the broker redelivers it, and the
        # outbox row (not the task) decides that nothing is sent twice.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }


def make_celery(settings: Settings) -> Celery:
    """The Celery app for these settings; tasks come from `workers.tasks` (named, not imported)."""
    from celery import Celery

    broker, options = broker_options(settings)
    celery = Celery("engage", broker=broker, include=["workers.tasks"])
    celery.conf.update(
        broker_transport=broker_transport(broker),
        broker_transport_options=options,
        **_connection_settings(),
        task_acks_late=True,  # a task lost with its worker is redelivered...
        task_reject_on_worker_lost=True,  # ...and the outbox state makes the redelivery harmless
        task_ignore_result=True,
        # A process reserves only the tasks it runs: their rows are `sending` under a lease, so a
        # killed worker's share is back within one lease, not after `stuck_after` in `queued`.
        worker_prefetch_multiplier=1,
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]
            for name in QUEUES
        ],
        task_default_queue="dispatch",
        task_routes={
            "engage.dispatch": {"queue": "dispatch"},
            "engage.recover": {"queue": "dispatch"},
        },
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=bool(settings.broker_url),  # for Flower; needs a real broker
        beat_schedule={
            "dispatch-due-messages": {
                "task": "engage.dispatch",
                "schedule": settings.dispatch_interval_seconds,
                "options": {"expires": 10},
            },
            "recover-stuck-messages": {"task": "engage.recover", "schedule": 60.0},
        },
    )
    return celery
