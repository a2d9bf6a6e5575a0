"""Email and chat notifications: one row per message, and which outbox events were already fanned out.

Events written before this revision count as fanned out, so configuring SMTP later does not mail old news.
"""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import UTCDateTime

revision = "0014_notifications"
down_revision = "0013_closed_loop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("send_after", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_notifications_event_id", "notifications", ["event_id"])
    op.create_index("ix_notifications_next_attempt_at", "notifications", ["next_attempt_at"])
    op.create_index("ix_notifications_delivered_at", "notifications", ["delivered_at"])
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.add_column(sa.Column("fanned_out_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_webhook_outbox_fanned_out_at", ["fanned_out_at"])
    op.execute("UPDATE webhook_outbox SET fanned_out_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.drop_index("ix_webhook_outbox_fanned_out_at")
        batch.drop_column("fanned_out_at")
    op.drop_index("ix_notifications_delivered_at", "notifications")
    op.drop_index("ix_notifications_next_attempt_at", "notifications")
    op.drop_index("ix_notifications_event_id", "notifications")
    op.drop_table("notifications")
