"""Serious-incident table (migration 0017_incidents)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, JSONType, UTCDateTime


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system_id: Mapped[str] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    system: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    widespread: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    member_state: Mapped[str | None] = mapped_column(String(2))
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime)
    period_days: Mapped[int] = mapped_column(Integer)
    article: Mapped[str] = mapped_column(String(40))
    last_day: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deadline_note: Mapped[str] = mapped_column(Text)
    authority: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | closed
    suspended_licenses: Mapped[list[str]] = mapped_column(JSONType)
    reported_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(140), nullable=True)
    closing_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType)
