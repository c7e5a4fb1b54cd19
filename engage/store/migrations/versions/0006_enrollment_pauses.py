"""An index for ending pauses on time: the dispatcher looks for paused enrollments whose
`paused_until` has come once a minute, without reading every enrollment.
"""

from alembic import op

from engage.store.migrations.columns import index

revision, down_revision = "0006", "0005"


def upgrade() -> None:
    index("enrollment", "state", "paused_until")


def downgrade() -> None:
    op.drop_index("ix_enrollment_state_paused_until", "enrollment")
