"""Catalog: systems, model versions, datasets, lineage.

Reserved in the migration chain; the owning domain adds its tables here.
"""

revision = "0003_catalog"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
