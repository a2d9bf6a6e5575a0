"""Sign-off table. Uniqueness per (subject, stage, person) and per (subject, stage, function) is enforced by the DB."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, UTCDateTime


class SignOffRow(Base):
    __tablename__ = "signoffs"
    __table_args__ = (
        UniqueConstraint("subject_kind", "subject_id", "stage", "principal_id", name="uq_signoffs_person"),
        UniqueConstraint("subject_kind", "subject_id", "stage", "function", name="uq_signoffs_function"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(40), index=True)
    subject_digest: Mapped[str] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(40))
    function: Mapped[str] = mapped_column(String(40))
    decision: Mapped[str] = mapped_column(String(10))
    principal_id: Mapped[str] = mapped_column(String(40))
    principal: Mapped[str] = mapped_column(String(140))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
