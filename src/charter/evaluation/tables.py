"""Evaluations (evidence submitted about a model digest) and assessments (policy set × evidence → verdict)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, JSONType, UTCDateTime


class EvaluationRow(Base):
    """Evidence computed by the client (performance, fairness, scan) tied to its input digests."""

    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_digest_created", "digest", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(120), index=True)
    model_ref: Mapped[str] = mapped_column(String(250))
    model_version_id: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(80))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    evidence_digest: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    computed_by: Mapped[str] = mapped_column(String(8), default="client", server_default="client")
    code_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssessmentRow(Base):
    """The active policies evaluated on the full evidence document of one model version."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_digest_created", "digest", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    evaluation_id: Mapped[str | None] = mapped_column(ForeignKey("evaluations.id"), nullable=True)
    system: Mapped[str] = mapped_column(String(120), index=True)
    model_ref: Mapped[str] = mapped_column(String(250))
    model_version_id: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(80))
    verdict: Mapped[str] = mapped_column(String(8))
    blockers: Mapped[list[str]] = mapped_column(JSONType)
    counts: Mapped[dict[str, int]] = mapped_column(JSONType)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    policies: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    policy_set_digest: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    evidence_digest: Mapped[str] = mapped_column(String(64))
    computed_by: Mapped[str | None] = mapped_column(String(8), nullable=True)
    code_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
