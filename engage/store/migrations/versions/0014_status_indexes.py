"""Indexes for `engage status` and /metrics at clinic-group scale: messages by when they were
sent (lateness over the window) and message events by time and by actor (activity, failure
reasons and the dispatcher's last change over the window), so none of them scans the outbox.
"""

from alembic import op

from engage.store.migrations.columns import index

revision, down_revision = "0014", "0013"


def upgrade() -> None:
    index("message", "sent_at")
    index("message_event", "at")
    index("message_event", "actor", "at")


def downgrade() -> None:
    op.drop_index("ix_message_event_actor_at", table_name="message_event")
    op.drop_index("ix_message_event_at", table_name="message_event")
    op.drop_index("ix_message_sent_at", table_name="message")
