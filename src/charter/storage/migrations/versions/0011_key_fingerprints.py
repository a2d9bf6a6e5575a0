"""The key set each process must hold: fingerprints of the license and audit keys and the audit HMAC key's id."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import UTCDateTime

revision = "0011_key_fingerprints"
down_revision = "0010_system_thresholds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_fingerprints",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_fingerprints")
