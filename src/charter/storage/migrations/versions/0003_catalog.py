"""Catalog: AI systems, model versions, datasets, lineage edges (matches charter.catalog.tables)."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0003_catalog"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_systems",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("team", sa.String(120), nullable=True, index=True),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("deployer", sa.String(200), nullable=True),
        sa.Column("risk_tier", sa.String(16), nullable=False, index=True),
        sa.Column("gpai", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("gpai_systemic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("annex_iii_area", sa.String(8), nullable=True),
        sa.Column("personal_data", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("special_category_data", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("human_oversight", sa.Text, nullable=True),
        sa.Column("dpia_reference", sa.String(200), nullable=True),
        sa.Column("log_retention_days", sa.Integer, nullable=True),
        sa.Column("access_restricted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("answers", JSONType, nullable=False),
        sa.Column("classification", JSONType, nullable=False),
        sa.Column("obligations", JSONType, nullable=False),
        sa.Column("production_licensed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("system_id", sa.String(40), sa.ForeignKey("ai_systems.id"), nullable=False, index=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False, index=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("files", JSONType, nullable=False),
        sa.Column("uri", sa.String(1000), nullable=True),
        sa.Column("framework", sa.String(64), nullable=True),
        sa.Column("format", sa.String(32), nullable=True),
        sa.Column("card", JSONType, nullable=False),
        sa.Column("license", sa.String(300), nullable=True),
        sa.Column("restricted_purposes", JSONType, nullable=False),
        sa.Column("usage_terms", JSONType, nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("system_id", "version", name="uq_model_versions_system_version"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, index=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("team", sa.String(120), nullable=True),
        sa.Column("digest", sa.String(71), nullable=True, index=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("uri", sa.String(1000), nullable=True),
        sa.Column("source", sa.String(1000), nullable=True),
        sa.Column("license", sa.String(300), nullable=True),
        sa.Column("lawful_basis", sa.String(24), nullable=True),
        sa.Column("personal_data", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("special_category", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("consent_ref", sa.String(300), nullable=True),
        sa.Column("retention_until", sa.Date, nullable=True),
        sa.Column("data_format", sa.String(32), nullable=True),
        sa.Column("schema", JSONType, nullable=True),
        sa.Column("row_count", sa.BigInteger, nullable=True),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_datasets_name_version"),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("source_dataset_id", sa.String(40), sa.ForeignKey("datasets.id"), nullable=False, index=True),
        sa.Column("target_dataset_id", sa.String(40), sa.ForeignKey("datasets.id"), nullable=True, index=True),
        sa.Column(
            "target_model_version_id", sa.String(40), sa.ForeignKey("model_versions.id"), nullable=True, index=True
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("lineage_edges", "datasets", "model_versions", "ai_systems"):
        op.drop_table(table)
