"""Model versions record a verified OpenSSF model-signing signature (method, signer, bundle digest)."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType

revision = "0012_model_signatures"
down_revision = "0011_key_fingerprints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("signature", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("signature")
