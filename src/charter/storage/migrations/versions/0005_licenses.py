"""Licenses, sign-offs, status list, re-audit tasks, webhooks, job locks."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0005_licenses"
down_revision = "0004_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signoffs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False, index=True),
        sa.Column("subject_digest", sa.String(80), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("function", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("principal_id", sa.String(40), nullable=False),
        sa.Column("principal", sa.String(140), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("subject_kind", "subject_id", "stage", "principal_id", name="uq_signoffs_person"),
        sa.UniqueConstraint("subject_kind", "subject_id", "stage", "function", name="uq_signoffs_function"),
    )
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("system", sa.String(120), nullable=False, index=True),
        sa.Column("model_ref", sa.String(250), nullable=False),
        sa.Column("model_version", sa.String(120), nullable=False),
        sa.Column("model_version_id", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False, index=True),
        sa.Column("env", sa.String(60), nullable=False),
        sa.Column("purposes", JSONType, nullable=False),
        sa.Column("callers", JSONType, nullable=False),
        sa.Column("tools", JSONType, nullable=False),
        sa.Column("regions", JSONType, nullable=False),
        sa.Column("conditions", JSONType, nullable=False),
        sa.Column("conditions_digest", sa.String(80), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("risk_tier", sa.String(20), nullable=False),
        sa.Column("personal_data", sa.Boolean, nullable=False),
        sa.Column("required_signoffs", JSONType, nullable=False),
        sa.Column("policy_digest", sa.String(80), nullable=False),
        sa.Column("state", sa.String(12), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("requested_by_id", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(140), nullable=False),
        sa.Column("renews", sa.String(40), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("activated_at", UTCDateTime, nullable=True),
        sa.Column("nbf", UTCDateTime, nullable=True),
        sa.Column("exp", UTCDateTime, nullable=True, index=True),
        sa.Column("status_index", sa.Integer, nullable=True, unique=True),
        sa.Column("token_id", sa.String(40), nullable=True),
        sa.Column("assessment_id", sa.String(60), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("reason_category", sa.String(40), nullable=True),
        sa.Column("evidence", JSONType, nullable=True),
        sa.Column("expiry_warned_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "license_meta",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state_version", sa.BigInteger, nullable=False),
        sa.Column("next_index", sa.Integer, nullable=False),
    )
    op.execute("INSERT INTO license_meta (id, state_version, next_index) VALUES (1, 0, 0)")
    op.create_table(
        "license_status_lists",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("audit_size", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "audit_tasks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("system", sa.String(120), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("model_ref", sa.String(250), nullable=True),
        sa.Column("license_id", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False, index=True),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.Column("completed_by", sa.String(140), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("overdue_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.Column("delivered_at", UTCDateTime, nullable=True, index=True),
        sa.Column("failed_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("holder", sa.String(80), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("last_run_at", UTCDateTime, nullable=True),
    )


def downgrade() -> None:
    for table in (
        "job_leases",
        "webhook_outbox",
        "audit_tasks",
        "license_status_lists",
        "license_meta",
        "licenses",
        "signoffs",
    ):
        op.drop_table(table)
