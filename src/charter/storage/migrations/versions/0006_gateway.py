"""Gateway deployments.

Reserved in the migration chain; the owning domain adds its tables here.
"""

revision = "0006_gateway"
down_revision = "0005_licenses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
