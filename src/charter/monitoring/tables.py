"""Monitoring tables: reference profiles (one per model digest), windows of production data with the sketch parts
they merge, their metric values (one row per metric id, for time series) and condition checks per license."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, JSONType, UTCDateTime


class ProfileRow(Base):
    """The reference profile of one model digest (replaced by a new upload; the audit log keeps the history)."""

    __tablename__ = "monitor_profiles"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80), unique=True)
    system: Mapped[str] = mapped_column(String(120), index=True)
    model_ref: Mapped[str] = mapped_column(String(250))
    fingerprint: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rows: Mapped[int] = mapped_column(BigInteger)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONType)
    source: Mapped[dict[str, Any]] = mapped_column(JSONType)
    capture: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WindowRow(Base):
    """One window [start, end) of one digest in one environment: the merged sketch of its parts and the metrics
    computed on it. It only ever acts on licenses of its own environment."""

    __tablename__ = "monitor_windows"
    __table_args__ = (
        UniqueConstraint("digest", "env", "start", "end", name="uq_monitor_windows_digest_env"),
        Index("ix_monitor_windows_digest_end", "digest", "env", "end"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80))
    env: Mapped[str] = mapped_column(String(60), server_default="production")
    system: Mapped[str] = mapped_column(String(120), index=True)
    model_ref: Mapped[str] = mapped_column(String(250))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    sketch: Mapped[dict[str, Any]] = mapped_column(JSONType)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)  # flat {metric id: value | null}
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)  # drift/performance/fairness detail
    status: Mapped[str] = mapped_column(String(20))  # drift status: ok | warn | breach | insufficient
    sources: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WindowPartRow(Base):
    """What one source contributed to a window: `capture` (gateway flushes, merged) or `upload:<sha256>` (replaced
    when the same file is ingested again, e.g. with late labels)."""

    __tablename__ = "monitor_window_parts"
    __table_args__ = (UniqueConstraint("window_id", "source", name="uq_monitor_window_parts_window_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    window_id: Mapped[str] = mapped_column(String(40), ForeignKey("monitor_windows.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(120))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    sketch: Mapped[dict[str, Any]] = mapped_column(JSONType)
    info: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(140))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WindowHistoryRow(Base):
    """One contribution to a window, kept for good: a part merged into (`merge`) or replaced (`replace`, a corrected
    upload). `replaced_sha256` and `part_rows_before` show what a correction replaced."""

    __tablename__ = "monitor_window_history"
    __table_args__ = (Index("ix_monitor_window_history_window", "window_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    window_id: Mapped[str] = mapped_column(String(40), ForeignKey("monitor_windows.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(10))  # merge | replace
    rows: Mapped[int] = mapped_column(BigInteger)  # rows this contribution carried
    part_rows_before: Mapped[int | None] = mapped_column(BigInteger)
    part_rows_after: Mapped[int] = mapped_column(BigInteger)
    window_rows_after: Mapped[int] = mapped_column(BigInteger)
    sketch_sha256: Mapped[str] = mapped_column(String(64))
    replaced_sha256: Mapped[str | None] = mapped_column(String(64))
    info: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MetricRow(Base):
    """One metric value of one window (None: no verdict), indexed for time series by digest and metric id."""

    __tablename__ = "monitor_metrics"
    __table_args__ = (Index("ix_monitor_metrics_series", "digest", "metric", "window_end"),)

    window_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("monitor_windows.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(250), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80))
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[float | None] = mapped_column(Float)


class CheckRow(Base):
    """One license condition checked against one window, and the action it took (at most once per window)."""

    __tablename__ = "monitor_checks"
    __table_args__ = (
        UniqueConstraint("window_id", "license_id", "position", name="uq_monitor_checks_window_id"),
        Index("ix_monitor_checks_license", "license_id", "checked_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    window_id: Mapped[str] = mapped_column(String(40), ForeignKey("monitor_windows.id", ondelete="CASCADE"))
    license_id: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(80), index=True)
    position: Mapped[int] = mapped_column(Integer)  # index of the condition in the license
    condition: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(String(250))
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(10))  # the condition's action: suspend | revoke
    windows: Mapped[int] = mapped_column(Integer)  # persistence the condition asks for
    status: Mapped[str] = mapped_column(String(10))  # holds | breached | no_data
    observed: Mapped[float | None] = mapped_column(Float)
    consecutive: Mapped[int] = mapped_column(Integer)
    fired: Mapped[str | None] = mapped_column(String(10))  # the action this window triggered, once
    outcome: Mapped[str | None] = mapped_column(String(200))  # what happened to the license
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
