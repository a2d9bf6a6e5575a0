"""License tables: licenses (optimistically locked), the state counter, the signed status list and re-audit tasks.
The webhook outbox and job leases, which other domains share, are in `charter.storage.tables`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, JSONType, UTCDateTime


class LicenseRow(Base):
    __tablename__ = "licenses"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(120), index=True)
    model_ref: Mapped[str] = mapped_column(String(250))
    model_version: Mapped[str] = mapped_column(String(120))
    model_version_id: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(80), index=True)
    env: Mapped[str] = mapped_column(String(60))
    purposes: Mapped[list[str]] = mapped_column(JSONType)
    callers: Mapped[list[str]] = mapped_column(JSONType)
    tools: Mapped[list[str]] = mapped_column(JSONType)
    tool_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list, server_default="[]")
    regions: Mapped[list[str]] = mapped_column(JSONType)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    conditions_digest: Mapped[str] = mapped_column(String(80))
    days: Mapped[int] = mapped_column(Integer)
    risk_tier: Mapped[str] = mapped_column(String(20))
    personal_data: Mapped[bool] = mapped_column(Boolean)
    required_signoffs: Mapped[list[str]] = mapped_column(JSONType)
    policy_digest: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(12), index=True)
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(40))
    requested_by_id: Mapped[str] = mapped_column(String(40))
    requested_by: Mapped[str] = mapped_column(String(140))
    renews: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    nbf: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exp: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    status_index: Mapped[int | None] = mapped_column(Integer, unique=True)
    token_id: Mapped[str | None] = mapped_column(String(40))
    assessment_id: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    reason_category: Mapped[str | None] = mapped_column(String(40))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    expiry_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class LicenseMetaRow(Base):
    """One row: `state_version` rises with every license change; `next_index` hands out status-list slots."""

    __tablename__ = "license_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_version: Mapped[int] = mapped_column(BigInteger)
    next_index: Mapped[int] = mapped_column(Integer)


class StatusListRow(Base):
    """The latest signed status list (one row)."""

    __tablename__ = "license_status_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    audit_size: Mapped[int | None] = mapped_column(BigInteger)


class AuditTaskRow(Base):
    """A scheduled re-audit of a system: periodic, or because a licensed system got a new model version."""

    __tablename__ = "audit_tasks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # periodic | new_version
    model_ref: Mapped[str | None] = mapped_column(String(250))
    license_id: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # open | done | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(140))
    note: Mapped[str | None] = mapped_column(Text)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
