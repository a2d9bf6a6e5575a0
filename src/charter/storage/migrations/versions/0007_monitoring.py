"""Monitoring: reference profiles, windows, metrics, condition results.

Reserved in the migration chain; the owning domain adds its tables here.
"""

revision = "0007_monitoring"
down_revision = "0006_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
