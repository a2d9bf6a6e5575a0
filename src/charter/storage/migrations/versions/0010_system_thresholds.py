"""Per-system policy thresholds: overrides that may only tighten the baselines' defaults."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType

revision = "0010_system_thresholds"
down_revision = "0009_model_retire"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ai_systems") as batch:
        batch.add_column(sa.Column("thresholds", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ai_systems") as batch:
        batch.drop_column("thresholds")
