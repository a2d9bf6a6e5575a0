"""Versioned obligation documents: FRIA (EU AI Act Art. 27) and post-market monitoring plan (Art. 72)."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0019_obligation_documents"
down_revision = "0018_attestations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "obligation_documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "system_id",
            sa.String(40),
            sa.ForeignKey("ai_systems.id", name="fk_obligation_documents_system_id_ai_systems"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("sections", JSONType, nullable=False),
        sa.Column("metrics", JSONType, nullable=False),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("system_id", "kind", "revision", name="uq_obligation_documents_revision"),
    )
    op.create_index("ix_obligation_documents_system_id", "obligation_documents", ["system_id"])


def downgrade() -> None:
    op.drop_table("obligation_documents")
