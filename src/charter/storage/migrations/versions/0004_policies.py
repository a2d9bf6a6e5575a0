"""Policies, evaluations (evidence) and assessments.

Reserved in the migration chain; the owning domain adds its tables here.
"""

revision = "0004_policies"
down_revision = "0003_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
