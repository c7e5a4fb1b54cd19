"""Console users, their sessions and failed sign-ins."""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import ROLES, fk, index, instant, integer, key, one_of, string

revision, down_revision = "0005", "0004"


def upgrade() -> None:
    op.create_table(
        "console_user",
        *key("console_user"),
        string("username", 64),
        string("display_name", 100),
        *one_of("console_user", "role", ROLES),
        string("password_hash", 200),
        instant("created_at"),
        instant("disabled_at", nullable=True),
        sa.UniqueConstraint("username", name="uq_console_user_username"),
    )
    op.create_table(
        "console_session",
        *key("console_session"),
        string("token_hash", 64),
        string("csrf_token", 64),
        integer("user_id"),
        instant("created_at"),
        instant("last_seen_at"),
        instant("ended_at", nullable=True),
        fk("console_session", "user_id", "console_user"),
        sa.UniqueConstraint("token_hash", name="uq_console_session_token_hash"),
    )
    index("console_session", "user_id")
    op.create_table(
        "login_failure",
        *key("login_failure"),
        instant("at"),
        string("username", 64),
        string("source", 64),
    )
    index("login_failure", "username", "at")
    index("login_failure", "source", "at")


def downgrade() -> None:
    op.drop_table("login_failure")
    op.drop_index("ix_console_session_user_id", table_name="console_session")
    op.drop_table("console_session")
    op.drop_table("console_user")
