"""The JSON shape of the compliance summary (`GET /reports/compliance?format=json`), for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class LatestAssessment(BaseModel):
    id: str
    model: str
    verdict: str
    blockers: list[str]
    created_at: datetime


class Provenance(BaseModel):
    model: str | None
    complete: bool | None
    issues: list[str]


class PendingSignOffs(BaseModel):
    license: str
    state: str
    missing: list[str]


class SignOffSummary(BaseModel):
    licenses: int
    complete: int
    pending: list[PendingSignOffs]
    ratio: float | None


class ComplianceRow(BaseModel):
    system: str
    team: str | None
    risk_tier: str
    versions: int
    licenses: dict[str, int]
    live_licenses: int
    latest_assessment: LatestAssessment | None
    open_reaudits: int
    overdue_reaudits: int
    breached_conditions: list[str]
    provenance: Provenance
    signoffs: SignOffSummary


class ComplianceTotals(BaseModel):
    systems: int
    by_tier: dict[str, int]
    by_verdict: dict[str, int]
    live_licenses: int
    open_reaudits: int
    overdue_reaudits: int
    breached_conditions: int
    provenance_incomplete: int
    signoffs_pending: int


class ComplianceSummary(BaseModel):
    """Every system the caller may report on, one row each, with totals (one document, not a paged list)."""

    format: str
    version: int
    generator: str
    generated_at: datetime
    generated_by: str
    totals: ComplianceTotals
    items: list[ComplianceRow]
