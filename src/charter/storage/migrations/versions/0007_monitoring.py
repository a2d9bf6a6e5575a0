"""Monitoring: reference profiles, windows (and the sketch parts they merge), metric values, condition checks."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0007_monitoring"
down_revision = "0006_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_profiles",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("system", sa.String(120), nullable=False, index=True),
        sa.Column("model_ref", sa.String(250), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("profile", JSONType, nullable=False),
        sa.Column("source", JSONType, nullable=False),
        sa.Column("capture", JSONType, nullable=False),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("digest", name="uq_monitor_profiles_digest"),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("system", sa.String(120), nullable=False, index=True),
        sa.Column("model_ref", sa.String(250), nullable=False),
        sa.Column("start", UTCDateTime, nullable=False),
        sa.Column("end", UTCDateTime, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("sketch", JSONType, nullable=False),
        sa.Column("metrics", JSONType, nullable=False),
        sa.Column("report", JSONType, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sources", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("digest", "start", "end", name="uq_monitor_windows_digest"),
    )
    op.create_index("ix_monitor_windows_digest_end", "monitor_windows", ["digest", "end"])
    op.create_table(
        "monitor_window_parts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "window_id",
            sa.String(40),
            sa.ForeignKey(
                "monitor_windows.id",
                ondelete="CASCADE",
                name="fk_monitor_window_parts_window_id_monitor_windows",
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("sketch", JSONType, nullable=False),
        sa.Column("info", JSONType, nullable=False),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("window_id", "source", name="uq_monitor_window_parts_window_id"),
    )
    op.create_table(
        "monitor_metrics",
        sa.Column(
            "window_id",
            sa.String(40),
            sa.ForeignKey(
                "monitor_windows.id", ondelete="CASCADE", name="fk_monitor_metrics_window_id_monitor_windows"
            ),
            primary_key=True,
        ),
        sa.Column("metric", sa.String(250), primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("window_end", UTCDateTime, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
    )
    op.create_index("ix_monitor_metrics_series", "monitor_metrics", ["digest", "metric", "window_end"])
    op.create_table(
        "monitor_checks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "window_id",
            sa.String(40),
            sa.ForeignKey("monitor_windows.id", ondelete="CASCADE", name="fk_monitor_checks_window_id_monitor_windows"),
            nullable=False,
        ),
        sa.Column("license_id", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("condition", sa.Text, nullable=False),
        sa.Column("metric", sa.String(250), nullable=False),
        sa.Column("op", sa.String(2), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("windows", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("observed", sa.Float, nullable=True),
        sa.Column("consecutive", sa.Integer, nullable=False),
        sa.Column("fired", sa.String(10), nullable=True),
        sa.Column("outcome", sa.String(200), nullable=True),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("window_id", "license_id", "position", name="uq_monitor_checks_window_id"),
    )
    op.create_index("ix_monitor_checks_license", "monitor_checks", ["license_id", "checked_at"])


def downgrade() -> None:
    op.drop_table("monitor_checks")
    op.drop_table("monitor_metrics")
    op.drop_table("monitor_window_parts")
    op.drop_index("ix_monitor_windows_digest_end", table_name="monitor_windows")
    op.drop_table("monitor_windows")
    op.drop_table("monitor_profiles")
