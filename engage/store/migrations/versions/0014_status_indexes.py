"""Indexes for `engage status` and /metrics at clinic-group scale: messages by when they were
sent (lateness over the window) and message events by time and by actor (activity, failure
reasons and the dispatcher's last change over the window), so none of them scans the outbox.
"""

from alembic import op

revision, down_revision = "0014", "0013"


def upgrade() -> None:
    op.create_index("ix_message_sent_at", "message", ["sent_at"])
    op.create_index("ix_message_event_at", "message_event", ["at"])
    op.create_index("ix_message_event_actor_at", "message_event", ["actor", "at"])


def downgrade() -> None:
    op.drop_index("ix_message_event_actor_at", table_name="message_event")
    op.drop_index("ix_message_event_at", table_name="message_event")
    op.drop_index("ix_message_sent_at", table_name="message")
