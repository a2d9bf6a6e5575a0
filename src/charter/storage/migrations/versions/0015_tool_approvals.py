"""Tool rules on licenses (argument conditions, runtime approvals) and the approvals they raise.

`licenses.tool_rules` holds `[{"tool", "kind": "condition"|"approval", "value"}]`; existing licenses have none.
`tool_approvals` holds one row per call that waited for a human: the exact call (license, deployment, tool,
canonical-arguments digest, agent), its decision, and the single use of the grant an approval issues.
"""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0015_tool_approvals"
down_revision = "0014_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licenses") as batch:
        batch.add_column(sa.Column("tool_rules", JSONType, nullable=False, server_default="[]"))
    op.create_table(
        "tool_approvals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("license_id", sa.String(40), nullable=False, index=True),
        sa.Column("deployment", sa.String(63), nullable=False),
        sa.Column("tool", sa.String(200), nullable=False),
        sa.Column("args_sha256", sa.String(64), nullable=False),
        sa.Column("args", JSONType, nullable=False),
        sa.Column("agent", sa.String(140), nullable=False),
        sa.Column("approver", sa.String(60), nullable=False),
        sa.Column("state", sa.String(12), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(140), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("tool_approvals")
    with op.batch_alter_table("licenses") as batch:
        batch.drop_column("tool_rules")
