"""Attestation and control-status schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from charter.core.schema import Strict

MAX_STORED = 512 * 1024  # evidence files up to this size are stored; larger ones are recorded by hash only


class AttestationCreate(Strict):
    control: str = Field(min_length=1, max_length=80, description="Control id, e.g. EUAIA-ART4")
    statement: str = Field(min_length=1, max_length=4000, description="What the attester confirms")
    evidence_name: str = Field(min_length=1, max_length=255, description="File name of the evidence")
    evidence_sha256: str = Field(pattern=r"^(sha256:)?[0-9a-f]{64}$", description="sha256 of the evidence file")
    evidence_size: int = Field(ge=0, le=2**50, description="Size of the evidence file in bytes (at most 1 PiB)")
    evidence_b64: str | None = Field(
        default=None,
        max_length=4 * MAX_STORED // 3 + 4,
        description=f"The file itself, base64 (stored when given; at most {MAX_STORED} bytes)",
    )
    valid_days: int = Field(ge=1, le=1095, description="How long the attestation holds, in days")

    @field_validator("evidence_name")
    @classmethod
    def _a_file_name(cls, value: str) -> str:
        if value in (".", "..") or any(ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("a file name without a directory (no '/', '\\', control characters, '.' or '..')")
        return value


class AttestationRead(BaseModel):
    id: str
    system: str
    control: str
    statement: str
    attested_by: str
    evidence_name: str
    evidence_sha256: str
    evidence_size: int
    evidence_stored: bool
    valid_from: datetime
    valid_until: datetime
    expired: bool
    created_at: datetime


class ControlState(BaseModel):
    id: str
    ref: str
    title: str
    legal_status: str
    status: str = Field(description="auto_checked | attested | expired | missing | not_applicable")
    ok: bool = Field(description="False (red) for missing and expired")
    why: str
    rules: list[str] = Field(default_factory=list)
    attestation: AttestationRead | None = None


class ControlsStatus(BaseModel):
    system: str
    framework: str
    tier: str
    counts: dict[str, int]
    controls: list[ControlState]
