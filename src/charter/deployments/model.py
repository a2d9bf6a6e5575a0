"""Deployment and license-grant types, denial reasons and the decision a gateway or SDK call gets. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DeploymentKind(StrEnum):
    OPENAI = "openai"  # OpenAI-compatible server: /v1/chat/completions, /v1/completions, /v1/embeddings
    HTTP = "http"  # any model server, reached through /gw/{deployment}/{path}
    MCP = "mcp"  # an MCP server (Streamable HTTP), reached through /mcp/{deployment}; its tools are checked


class Reason(StrEnum):
    """Stable denial codes, named in problem+json bodies and audit entries."""

    NO_LICENSE = "no_license"
    LICENSE_SUSPENDED = "license_suspended"
    LICENSE_REVOKED = "license_revoked"
    LICENSE_EXPIRED = "license_expired"
    LICENSE_NOT_YET_VALID = "license_not_yet_valid"
    CALLER_NOT_IN_SCOPE = "caller_not_in_scope"
    PURPOSE_NOT_IN_SCOPE = "purpose_not_in_scope"
    TOOL_NOT_IN_SCOPE = "tool_not_in_scope"
    LICENSE_SCOPE_MISMATCH = "license_scope_mismatch"  # a token for another environment or model digest
    LICENSE_STATUS_UNAVAILABLE = "license_status_unavailable"
    RATE_LIMITED = "rate_limited"
    TOOL_CONDITION_FAILED = "tool_condition_failed"
    APPROVAL_REQUIRED = "approval_required"
    APPROVAL_REFUSED = "approval_refused"


@dataclass(frozen=True, slots=True)
class ToolRule:
    """A license's rule for one tool scope entry: a CEL condition over `args`, or an approver (`role:NAME`)."""

    tool: str  # NAME, SERVER:TOOL or SERVER:*
    kind: str  # "condition" | "approval"
    value: str


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where a model version serves: name → (digest, environment) → upstream."""

    id: str
    name: str
    model: str  # SYSTEM@VERSION
    system: str
    digest: str  # sha256:<hex> of the model version
    env: str
    upstream: str
    kind: DeploymentKind = DeploymentKind.OPENAI
    upstream_model: str | None = None  # rewrite the OpenAI `model` field to this name when forwarding
    rate_limit_rps: float | None = None
    rate_burst: int | None = None


def tool_rules(value: Any) -> tuple[ToolRule, ...]:
    """Rules as stored with a license or carried by its token (`[{"tool", "kind", "value"}]`); others are skipped."""
    out = []
    for item in value or ():
        if isinstance(item, Mapping) and {"tool", "kind", "value"} <= item.keys():
            out.append(ToolRule(str(item["tool"]), str(item["kind"]), str(item["value"])))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Grant:
    """One license as a gateway sees it (projection of `licenses.service.active_index`); times are epoch seconds."""

    license_id: str
    digest: str
    env: str
    state: str  # "active" | "suspended" | "revoked" | "expired"
    purposes: frozenset[str] = frozenset()
    callers: frozenset[str] = frozenset()
    tools: frozenset[str] = frozenset()
    nbf: float = 0.0
    exp: float = float("inf")
    risk_tier: str = "minimal"
    version: int = 0
    rate_limit_rps: float | None = None
    rate_burst: int | None = None
    tool_rules: tuple[ToolRule, ...] = ()

    @property
    def high_risk(self) -> bool:
        return self.risk_tier in ("high", "prohibited")


@dataclass(frozen=True, slots=True)
class Request:
    """What a call asks for, as far as the license scope is concerned."""

    caller: str  # "app:loan-portal"
    purpose: str | None
    tools: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the scope check: allowed with a license, or a denial reason (with the license it concerned)."""

    allowed: bool
    reason: Reason | None = None
    grant: Grant | None = None
    degraded: bool = False
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def license_id(self) -> str | None:
        return self.grant.license_id if self.grant is not None else None
