"""Serious incidents (EU AI Act Art. 73): kind, awareness time, reporting deadline, authority, suspended licenses."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0017_incidents"
down_revision = "0016_evidence_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "system_id",
            sa.String(40),
            sa.ForeignKey("ai_systems.id", name="fk_incidents_system_id_ai_systems"),
            nullable=False,
        ),
        sa.Column("system", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("widespread", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("member_state", sa.String(2), nullable=True),
        sa.Column("aware_at", UTCDateTime, nullable=False),
        sa.Column("period_days", sa.Integer, nullable=False),
        sa.Column("article", sa.String(40), nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("deadline_note", sa.Text, nullable=False),
        sa.Column("authority", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("suspended_licenses", JSONType, nullable=False),
        sa.Column("reported_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("closed_by", sa.String(140), nullable=True),
        sa.Column("closing_note", sa.Text, nullable=True),
        sa.Column("facts", JSONType, nullable=False),
    )
    op.create_index("ix_incidents_system_id", "incidents", ["system_id"])
    op.create_index("ix_incidents_system", "incidents", ["system"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_due_at", "incidents", ["due_at"])


def downgrade() -> None:
    op.drop_table("incidents")
