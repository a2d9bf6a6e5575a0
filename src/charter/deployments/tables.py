"""Deployment table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, UTCDateTime


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
