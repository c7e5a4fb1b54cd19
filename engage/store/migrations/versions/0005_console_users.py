"""Console users, their sessions and failed sign-ins."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0005", "0004"

ROLES = ("staff", "ops", "admin")


def _instant(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    allowed = ", ".join(f"'{role}'" for role in ROLES)
    op.create_table(
        "console_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        _instant("created_at"),
        _instant("disabled_at", nullable=True),
        sa.CheckConstraint(f"role IN ({allowed})", name=op.f("ck_console_user_role")),
        sa.PrimaryKeyConstraint("id", name="pk_console_user"),
        sa.UniqueConstraint("username", name="uq_console_user_username"),
    )
    op.create_table(
        "console_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _instant("created_at"),
        _instant("last_seen_at"),
        _instant("ended_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["console_user.id"], name="fk_console_session_user_id_console_user"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_console_session"),
        sa.UniqueConstraint("token_hash", name="uq_console_session_token_hash"),
    )
    op.create_index("ix_console_session_user_id", "console_session", ["user_id"])
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        _instant("at"),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failure"),
    )
    op.create_index("ix_login_failure_username_at", "login_failure", ["username", "at"])
    op.create_index("ix_login_failure_source_at", "login_failure", ["source", "at"])


def downgrade() -> None:
    op.drop_table("login_failure")
    op.drop_index("ix_console_session_user_id", table_name="console_session")
    op.drop_table("console_session")
    op.drop_table("console_user")
