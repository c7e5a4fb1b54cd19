"""The Celery app, built from engage's broker and queue definitions (engage.ops.queues)."""

from __future__ import annotations

from engage.ops.queues import make_celery
from engage.settings import load_settings
from workers.beat import Beat

app = make_celery(load_settings())
app.steps["worker"].add(Beat)
