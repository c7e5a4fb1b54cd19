"""The Celery app: queues per kind of work, late acks, low prefetch.

The broker comes from ENGAGE_BROKER_URL (Redis in production; RabbitMQ works too). Empty means
the embedded mode: kombu's filesystem transport under var/broker, so `make run` needs no server
yet tasks travel the same path as in production.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery
from kombu.entity import Exchange, Queue

from engage.settings import Settings, load_settings

QUEUES = ("dispatch", "sms", "email")


def broker_options(settings: Settings) -> tuple[str, dict[str, object]]:
    """The broker URL and its transport options for these settings."""
    if settings.broker_url:
        # Redis redelivers an unacked task after the visibility timeout; keep it far above the
        # longest send (timeout x attempts) so a slow send is never handed to a second worker.
        return settings.broker_url, {"visibility_timeout": 3600}
    folder = Path("var/broker").resolve()
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    (folder / "processed").mkdir(parents=True, exist_ok=True)
    return "filesystem://", {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


def make_celery(settings: Settings) -> Celery:
    broker, options = broker_options(settings)
    celery = Celery("engage", broker=broker, include=["workers.tasks"])
    celery.conf.update(
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,  # a task lost with its worker is redelivered...
        task_reject_on_worker_lost=True,  # ...and the outbox state makes the redelivery harmless
        task_ignore_result=True,
        worker_prefetch_multiplier=4,
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES
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


app = make_celery(load_settings())
