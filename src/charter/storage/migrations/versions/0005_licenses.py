"""Licenses, sign-offs, status list, re-audit tasks, webhooks, job locks.

Reserved in the migration chain; the owning domain adds its tables here.
"""

revision = "0005_licenses"
down_revision = "0004_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
