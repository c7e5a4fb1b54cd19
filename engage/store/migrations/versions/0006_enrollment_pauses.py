"""An index for ending pauses on time: the dispatcher looks for paused enrollments whose
`paused_until` has come once a minute, without reading every enrollment.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_enrollment_state_paused_until", "enrollment", ["state", "paused_until"])


def downgrade() -> None:
    op.drop_index("ix_enrollment_state_paused_until", "enrollment")
