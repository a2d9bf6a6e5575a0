"""Audit log: entries, Merkle head (created here, so concurrent first appends never race), nodes, checkpoints."""

import hashlib
from datetime import UTC, datetime

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
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("compact", JSONType, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.bulk_insert(
        head,
        [{"id": 1, "size": 0, "compact": [], "root": hashlib.sha256(b"").digest(), "updated_at": datetime.now(UTC)}],
    )
    op.create_table(
        "audit_nodes",
        sa.Column("height", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("compact", JSONType, nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    )


def downgrade() -> None:
    for table in ("audit_checkpoints", "audit_nodes", "audit_head", "audit_entries"):
        op.drop_table(table)
