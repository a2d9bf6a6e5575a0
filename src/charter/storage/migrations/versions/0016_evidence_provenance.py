"""Who computed an assessment's evidence: `computed_by` (server | client) and the code version, on evaluations and
assessments. Existing evaluations were all computed on the client (the only way there was)."""

import sqlalchemy as sa
from alembic import op

revision = "0016_evidence_provenance"
down_revision = "0015_tool_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("computed_by", sa.String(8), nullable=False, server_default="client"))
        batch.add_column(sa.Column("code_version", sa.String(40), nullable=True))
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("computed_by", sa.String(8), nullable=True))
        batch.add_column(sa.Column("code_version", sa.String(40), nullable=True))
    op.execute("UPDATE assessments SET computed_by = 'client' WHERE evaluation_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("code_version")
        batch.drop_column("computed_by")
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("code_version")
        batch.drop_column("computed_by")
