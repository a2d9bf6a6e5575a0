"""Foundation: principals, teams, API keys, role bindings, web sessions."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import UTCDateTime

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_principals_kind_name"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(40), sa.ForeignKey("teams.id"), primary_key=True),
        sa.Column("principal_id", sa.String(40), sa.ForeignKey("principals.id"), primary_key=True),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.String(40), sa.ForeignKey("principals.id"), nullable=False, index=True),
        sa.Column("name", sa.String(120), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "role_bindings",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("principal_id", sa.String(40), sa.ForeignKey("principals.id"), nullable=False, index=True),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("function", sa.String(40), nullable=False, server_default=""),
        sa.Column("scope_kind", sa.String(10), nullable=False),
        sa.Column("scope_name", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "principal_id", "role", "function", "scope_kind", "scope_name", name="uq_role_bindings_grant"
        ),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("principal_id", sa.String(40), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("web_sessions", "role_bindings", "api_keys", "team_members", "teams", "principals"):
        op.drop_table(table)
