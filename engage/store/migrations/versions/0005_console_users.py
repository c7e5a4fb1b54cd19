"""Console users, their sessions and failed sign-ins."""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import ROLES, fk, instant, key, one_of

revision, down_revision = "0005", "0004"


def upgrade() -> None:
    op.create_table(
        "console_user",
        *key("console_user"),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        *one_of("console_user", "role", ROLES),
        sa.Column("password_hash", sa.String(200), nullable=False),
        instant("created_at"),
        instant("disabled_at", nullable=True),
        sa.UniqueConstraint("username", name="uq_console_user_username"),
    )
    op.create_table(
        "console_session",
        *key("console_session"),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        instant("created_at"),
        instant("last_seen_at"),
        instant("ended_at", nullable=True),
        fk("console_session", "user_id", "console_user"),
        sa.UniqueConstraint("token_hash", name="uq_console_session_token_hash"),
    )
    op.create_index("ix_console_session_user_id", "console_session", ["user_id"])
    op.create_table(
        "login_failure",
        *key("login_failure"),
        instant("at"),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
    )
    op.create_index("ix_login_failure_username_at", "login_failure", ["username", "at"])
    op.create_index("ix_login_failure_source_at", "login_failure", ["source", "at"])


def downgrade() -> None:
    op.drop_table("login_failure")
    op.drop_index("ix_console_session_user_id", table_name="console_session")
    op.drop_table("console_session")
    op.drop_table("console_user")
