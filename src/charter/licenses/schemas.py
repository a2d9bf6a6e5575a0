"""API/CLI-facing license schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, Field, field_validator

from charter.catalog.schemas import PURPOSE_PATTERN, ModelVersionRead
from charter.core.schema import ReadModel, Strict
from charter.licenses.model import LicenseState
from charter.licenses.toolrules import TOOL_PATTERN
from charter.signoffs.schemas import SignOffRead

ENV_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,59}$"
Purpose = Annotated[str, Field(pattern=PURPOSE_PATTERN, description="Purpose, e.g. credit-decisioning.")]
Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,119}$")]
# A tool scope entry: NAME (OpenAI tools), SERVER:TOOL or SERVER:* (MCP deployments).
ToolToken = Annotated[str, Field(pattern=TOOL_PATTERN)]


class LicenseCreate(Strict):
    model: str = Field(max_length=250, description="SYSTEM@VERSION of the model version to license.")
    env: str = Field(pattern=ENV_PATTERN, description="Environment, e.g. production.")
    purposes: list[Purpose] = Field(min_length=1, max_length=50)
    callers: list[str] = Field(min_length=1, max_length=200, description="Apps allowed to call: app:NAME.")
    tools: list[ToolToken] = Field(default_factory=list, max_length=200)
    tool_conditions: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="'TOOL => CEL over args', e.g. 'crm-tools:refund => args.amount <= 500' (checked per call).",
    )
    approvals: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="'TOOL => role:NAME' (or a bare role:NAME for every listed tool): calls wait for that approver.",
    )
    regions: list[Token] = Field(default_factory=list, max_length=50)
    days: int = Field(ge=1, le=3650, description="Validity in days from activation (capped by policy per tier).")
    conditions: list[str] = Field(
        default_factory=list, max_length=50, description="'METRIC OP VALUE => suspend|revoke [after N windows]'."
    )


class StateChange(Strict):
    reason: str = Field(min_length=1, max_length=2000)
    category: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{0,39}$",
        description="What the suspension is about (fairness, security, drift, …); picks reinstatement sign-offs.",
    )
    evidence: dict[str, Any] | None = None
    expected_version: int | None = Field(default=None, ge=1, description="Refuse (409) unless the license is at it.")


class RenewCreate(Strict):
    days: int | None = Field(default=None, ge=1, le=3650)


class LicenseRead(ReadModel):  # built from its row: LicenseRead.model_validate(row)
    id: str
    state: LicenseState
    version: int
    model: str = Field(validation_alias=AliasChoices("model", "model_ref"))  # the row calls it model_ref
    system: str
    model_version: str
    digest: str
    env: str
    purposes: list[str]
    callers: list[str]
    tools: list[str]
    tool_rules: list[dict[str, Any]] = Field(default_factory=list)
    regions: list[str]
    conditions: list[dict[str, Any]]
    conditions_digest: str
    days: int
    risk_tier: str
    required_signoffs: list[str]
    stage: str
    requested_by: str
    renews: str | None = None
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None = None
    nbf: datetime | None = None
    exp: datetime | None = None
    status_index: int | None = None
    assessment_id: str | None = None
    reason: str | None = None
    reason_category: str | None = None

    @field_validator("tool_rules", mode="before")
    @classmethod
    def _no_rules(cls, value: Any) -> Any:
        return [] if value is None else value  # a row not flushed yet has no column default applied


class LicenseStatus(BaseModel):
    """Where a license stands and what it still needs."""

    id: str
    state: LicenseState
    version: int
    stage: str
    required_signoffs: list[str]
    approved: dict[str, str]
    rejected: dict[str, str]
    missing_signoffs: list[str]
    assessment: dict[str, Any] | None
    missing: list[str]
    ready: bool
    signoffs: list[SignOffRead]


class CheckResult(BaseModel):
    allowed: bool
    model: str
    digest: str
    env: str
    purpose: str | None = None
    license: str | None = None
    exp: datetime | None = None
    reasons: list[str]


class TokenRead(BaseModel):
    license: str
    token: str


class AuditTaskRead(ReadModel):  # built from its row: AuditTaskRead.model_validate(row)
    id: str
    system: str
    kind: str
    model: str | None = Field(default=None, validation_alias=AliasChoices("model", "model_ref"))
    license: str | None = Field(default=None, validation_alias=AliasChoices("license", "license_id"))
    reason: str
    due_at: datetime
    status: str
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None
    note: str | None = None


class AuditTaskComplete(Strict):
    note: str = Field(min_length=1, max_length=2000)


class ModelRetired(BaseModel):
    """A retired model version and the licenses its retirement revoked."""

    model: ModelVersionRead
    revoked: list[str]
