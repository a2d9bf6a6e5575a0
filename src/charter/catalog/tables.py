"""Catalog tables: AI systems, model versions, datasets, lineage edges (migration 0003_catalog)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, JSONType, UTCDateTime


class SystemRow(Base):
    __tablename__ = "ai_systems"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    team: Mapped[str | None] = mapped_column(String(120), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    deployer: Mapped[str | None] = mapped_column(String(200))
    risk_tier: Mapped[str] = mapped_column(String(16), index=True)
    gpai: Mapped[bool] = mapped_column(Boolean, default=False)
    gpai_systemic: Mapped[bool] = mapped_column(Boolean, default=False)
    annex_iii_area: Mapped[str | None] = mapped_column(String(8))
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    special_category_data: Mapped[bool] = mapped_column(Boolean, default=False)
    human_oversight: Mapped[str | None] = mapped_column(Text)
    dpia_reference: Mapped[str | None] = mapped_column(String(200))
    log_retention_days: Mapped[int | None] = mapped_column(Integer)
    access_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    classification: Mapped[dict[str, Any]] = mapped_column(JSONType)
    obligations: Mapped[list[str]] = mapped_column(JSONType)
    production_licensed: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    thresholds: Mapped[dict[str, float] | None] = mapped_column(JSONType, nullable=True)  # tightened only
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("system_id", "version", name="uq_model_versions_system_version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system_id: Mapped[str] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(71), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    uri: Mapped[str | None] = mapped_column(String(1000))
    framework: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[str | None] = mapped_column(String(32))
    card: Mapped[dict[str, Any]] = mapped_column(JSONType)
    license: Mapped[str | None] = mapped_column(String(300))
    restricted_purposes: Mapped[list[str]] = mapped_column(JSONType)
    usage_terms: Mapped[dict[str, Any]] = mapped_column(JSONType)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_by: Mapped[str | None] = mapped_column(String(140), nullable=True)
    retire_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)  # a verified signature


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(120))
    digest: Mapped[str | None] = mapped_column(String(71), index=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    uri: Mapped[str | None] = mapped_column(String(1000))
    source: Mapped[str | None] = mapped_column(String(1000))
    license: Mapped[str | None] = mapped_column(String(300))
    lawful_basis: Mapped[str | None] = mapped_column(String(24))
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    special_category: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_ref: Mapped[str | None] = mapped_column(String(300))
    retention_until: Mapped[date | None] = mapped_column(Date)
    data_format: Mapped[str | None] = mapped_column(String(32))
    schema: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LineageEdgeRow(Base):
    """dataset → dataset (`role` = 'derived') or dataset → model version (training|validation|test|reference)."""

    __tablename__ = "lineage_edges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    target_dataset_id: Mapped[str | None] = mapped_column(ForeignKey("datasets.id"), index=True)
    target_model_version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ObligationDocumentRow(Base):
    """A versioned FRIA (Art. 27) or post-market monitoring plan (Art. 72) for one model version of a system
    (migration 0019_obligation_documents). A new model version re-opens it: it needs a document of its own."""

    __tablename__ = "obligation_documents"
    __table_args__ = (UniqueConstraint("system_id", "kind", "revision", name="uq_obligation_documents_revision"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system_id: Mapped[str] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(64))
    sections: Mapped[dict[str, Any]] = mapped_column(JSONType)
    metrics: Mapped[list[str]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
