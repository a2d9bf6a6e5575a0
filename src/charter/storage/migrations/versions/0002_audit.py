"""Audit log: entries, Merkle head, checkpoints."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0002_audit"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", UTCDateTime, nullable=False, index=True),
        sa.Column("actor", sa.String(140), nullable=False, index=True),
        sa.Column("action", sa.String(80), nullable=False, index=True),
        sa.Column("resource", sa.String(200), nullable=False, index=True),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("compact", JSONType, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_entries")
