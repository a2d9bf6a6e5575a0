"""Attestations of controls no rule can check: who, evidence file (sha256, stored when small), validity."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import UTCDateTime

revision = "0018_attestations"
down_revision = "0017_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attestations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "system_id",
            sa.String(40),
            sa.ForeignKey("ai_systems.id", name="fk_attestations_system_id_ai_systems"),
            nullable=False,
        ),
        sa.Column("system", sa.String(120), nullable=False),
        sa.Column("control_id", sa.String(80), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("attested_by", sa.String(140), nullable=False),
        sa.Column("evidence_name", sa.String(255), nullable=False),
        sa.Column("evidence_sha256", sa.String(71), nullable=False),
        sa.Column("evidence_size", sa.Integer, nullable=False),
        sa.Column("evidence", sa.LargeBinary, nullable=True),
        sa.Column("valid_from", UTCDateTime, nullable=False),
        sa.Column("valid_until", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_attestations_system_id", "attestations", ["system_id"])
    op.create_index("ix_attestations_system", "attestations", ["system"])
    op.create_index("ix_attestations_control_id", "attestations", ["control_id"])


def downgrade() -> None:
    op.drop_table("attestations")
