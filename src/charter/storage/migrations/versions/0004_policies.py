"""Policies (versioned by digest), evaluations (evidence) and assessments (matches policies/evaluation tables)."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0004_policies"
down_revision = "0003_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("rule_count", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("activated_at", UTCDateTime, nullable=False),
        sa.Column("superseded_at", UTCDateTime, nullable=True),
    )
    op.create_index(
        "uq_policies_active_name",
        "policies",
        ["name"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("system", sa.String(120), nullable=False, index=True),
        sa.Column("model_ref", sa.String(250), nullable=False),
        sa.Column("model_version_id", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("evidence", JSONType, nullable=False),
        sa.Column("evidence_digest", sa.String(64), nullable=False),
        sa.Column("inputs", JSONType, nullable=False),
        sa.Column("options", JSONType, nullable=False),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_evaluations_digest_created", "evaluations", ["digest", "created_at"])
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("evaluation_id", sa.String(40), sa.ForeignKey("evaluations.id"), nullable=True),
        sa.Column("system", sa.String(120), nullable=False, index=True),
        sa.Column("model_ref", sa.String(250), nullable=False),
        sa.Column("model_version_id", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("blockers", JSONType, nullable=False),
        sa.Column("counts", JSONType, nullable=False),
        sa.Column("results", JSONType, nullable=False),
        sa.Column("policies", JSONType, nullable=False),
        sa.Column("policy_set_digest", sa.String(64), nullable=False),
        sa.Column("evidence", JSONType, nullable=False),
        sa.Column("evidence_digest", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_assessments_digest_created", "assessments", ["digest", "created_at"])


def downgrade() -> None:
    op.drop_table("assessments")
    op.drop_table("evaluations")
    op.drop_index("uq_policies_active_name", table_name="policies")
    op.drop_table("policies")
