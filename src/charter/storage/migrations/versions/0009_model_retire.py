"""Model versions can be retired: when, by whom and why (a retired version cannot be licensed again)."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import UTCDateTime

revision = "0009_model_retire"
down_revision = "0008_audit_rowid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("retired_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("retired_by", sa.String(140), nullable=True))
        batch.add_column(sa.Column("retire_reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("retire_reason")
        batch.drop_column("retired_by")
        batch.drop_column("retired_at")
