"""Gateway deployments: where a licensed model version serves, in which environment."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import UTCDateTime

revision = "0006_gateway"
down_revision = "0005_licenses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("model", sa.String(250), nullable=False),
        sa.Column("system", sa.String(120), nullable=False, index=True),
        sa.Column("digest", sa.String(80), nullable=False, index=True),
        sa.Column("env", sa.String(40), nullable=False),
        sa.Column("upstream", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("upstream_model", sa.String(200), nullable=True),
        sa.Column("rate_limit_rps", sa.Float, nullable=True),
        sa.Column("rate_burst", sa.Integer, nullable=True),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_deployments_name"),
    )


def downgrade() -> None:
    op.drop_table("deployments")
