"""Deployment and tool-approval tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, JSONType, UTCDateTime


class DeploymentRow(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    model: Mapped[str] = mapped_column(String(250))
    system: Mapped[str] = mapped_column(String(120), index=True)
    digest: Mapped[str] = mapped_column(String(80), index=True)
    env: Mapped[str] = mapped_column(String(40))
    upstream: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(10))
    upstream_model: Mapped[str | None] = mapped_column(String(200))
    rate_limit_rps: Mapped[float | None] = mapped_column(Float)
    rate_burst: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ToolApprovalRow(Base):
    """One tool call that waited for a human approver, its decision, and the single use of its grant."""

    __tablename__ = "tool_approvals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    license_id: Mapped[str] = mapped_column(String(40), index=True)
    deployment: Mapped[str] = mapped_column(String(63))
    tool: Mapped[str] = mapped_column(String(200))
    args_sha256: Mapped[str] = mapped_column(String(64))
    args: Mapped[Any] = mapped_column(JSONType)
    agent: Mapped[str] = mapped_column(String(140))
    approver: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(12), index=True)  # pending | approved | denied | used | expired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(140))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
