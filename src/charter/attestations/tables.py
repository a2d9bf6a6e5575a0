"""Attestation table (migration 0018_attestations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, UTCDateTime


class AttestationRow(Base):
    __tablename__ = "attestations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system_id: Mapped[str] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    system: Mapped[str] = mapped_column(String(120), index=True)
    control_id: Mapped[str] = mapped_column(String(80), index=True)
    statement: Mapped[str] = mapped_column(Text)
    attested_by: Mapped[str] = mapped_column(String(140))
    evidence_name: Mapped[str] = mapped_column(String(255))
    evidence_sha256: Mapped[str] = mapped_column(String(71))
    evidence_size: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
