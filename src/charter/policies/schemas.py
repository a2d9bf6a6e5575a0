"""API/CLI-facing policy schemas: stored versions, rule-level diffs, coverage."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from charter.core.schema import Strict

MAX_POLICY_CHARS = 2_000_000
FILENAME_PATTERN = r"^[^\x00-\x1f]{1,300}$"


class PolicyCreate(Strict):
    """A policy as YAML text (the API also takes the YAML itself as the request body)."""

    source: str = Field(min_length=1, max_length=MAX_POLICY_CHARS, description="The policy YAML.")
    filename: str = Field(default="policy.yaml", pattern=FILENAME_PATTERN, description="Shown in error positions.")


class RuleRead(BaseModel):
    id: str
    title: str
    severity: str
    when: str | None = None
    check: str
    controls: list[str]
    remediation: str
    evidence: list[str] = []


class PolicyRead(BaseModel):
    """One policy version: a built-in baseline or a stored document."""

    id: str
    name: str
    digest: str
    description: str
    rules: int
    origin: Literal["builtin", "stored"]
    active: bool
    filename: str
    created_by: str | None = None
    created_at: datetime | None = None
    superseded_at: datetime | None = None


class PolicyDeactivate(Strict):
    reason: str = Field(min_length=1, max_length=500, description="Why the policy no longer applies.")


class PolicyDetail(PolicyRead):
    rule_list: list[RuleRead]
    source: str


class PolicyAdded(PolicyRead):
    status: Literal["created", "unchanged", "reactivated"]
    superseded: str | None = Field(default=None, description="Digest of the version this one replaced.")


class FieldChange(BaseModel):
    before: Any = None
    after: Any = None


class RuleChange(BaseModel):
    id: str
    changes: dict[str, FieldChange]


class PolicyRef(BaseModel):
    name: str
    digest: str
    origin: Literal["builtin", "stored"]


class PolicyDiff(BaseModel):
    """Rule-level differences from one policy version to another."""

    from_: PolicyRef = Field(alias="from")
    to: PolicyRef
    metadata: dict[str, FieldChange]
    added: list[RuleRead]
    removed: list[RuleRead]
    changed: list[RuleChange]
    unchanged: list[str]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ActivePolicy(BaseModel):
    name: str
    digest: str


class ControlRead(BaseModel):
    id: str
    title: str
    legal_status: str = Field(description="in_force | adopted_amendment | proposal | voluntary_framework")
    legal_source: str = Field(description="The act (and OJ reference) the control's text comes from")


class ControlCovered(ControlRead):
    rules: list[str] = Field(description="The rules covering the control, as POLICY/RULE-ID.")
    status: Literal["pass", "fail", "not_applicable", "not_assessed"] | None = None


class FrameworkCoverage(BaseModel):
    """How many of a framework's controls the active policies cover."""

    model_config = ConfigDict(allow_inf_nan=False)

    framework: str
    title: str
    total: int
    covered_count: int
    ratio: float


class CoverageDetail(FrameworkCoverage):
    """Coverage of one framework (`framework=` given): each covered control with its rules, and the open ones."""

    policies: list[ActivePolicy]
    risk_tier: str | None
    covered: list[ControlCovered]
    uncovered: list[ControlRead]


class CoverageSummary(BaseModel):
    """Coverage of every framework (no `framework=`), one item each."""

    policies: list[ActivePolicy]
    risk_tier: str | None
    items: list[FrameworkCoverage]
