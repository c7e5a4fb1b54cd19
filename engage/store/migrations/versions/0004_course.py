"""Course workflows: a re-planned message's old and new due times (the timeline shows a move as
old -> new), and a pause with an end (`paused_until`: the enrollment resumes on its own).
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"


def _instant(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.add_column("message_event", _instant("due_from"))
    op.add_column("message_event", _instant("due_to"))
    op.add_column("enrollment", _instant("paused_until"))


def downgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("paused_until")
    with op.batch_alter_table("message_event") as batch:
        batch.drop_column("due_to")
        batch.drop_column("due_from")
