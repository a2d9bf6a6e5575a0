"""API/CLI-facing deployment schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from charter.core import egress
from charter.core.schema import ReadModel, Strict

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
MODEL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class DeploymentCreate(Strict):
    name: str = Field(pattern=NAME_PATTERN, description="Deployment name; the OpenAI `model` callers send.")
    model: str = Field(pattern=MODEL_PATTERN, max_length=250, description="SYSTEM@VERSION from the catalog.")
    env: str = Field(default="production", pattern=NAME_PATTERN, description="Environment the license must cover.")
    upstream: str = Field(pattern=r"^https?://[^\s]+$", max_length=500, description="Base URL of the model server.")
    kind: Literal["openai", "http", "mcp"] = "openai"
    upstream_model: str | None = Field(
        default=None, max_length=200, description="Model name the upstream expects (rewrites `model` in requests)."
    )
    rate_limit_rps: float | None = Field(default=None, gt=0, description="Calls per second per license.")
    rate_burst: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Bucket size (default: the rate).")

    @field_validator("upstream")
    @classmethod
    def _safe_upstream(cls, value: str) -> str:
        why = egress.url_refusal(value, egress.Allow())
        if why is not None:
            raise ValueError(f"upstream not allowed: {why}")
        return value


class DeploymentRead(ReadModel):
    id: str
    name: str
    model: str
    system: str
    digest: str
    env: str
    upstream: str
    kind: str
    upstream_model: str | None = None
    rate_limit_rps: float | None = None
    rate_burst: int | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class ToolCall(Strict):
    """One tool call an in-process agent is about to make (`guard.tool_call`)."""

    tool: str = Field(max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)
    approval_id: str | None = Field(default=None, max_length=60)


class AnswerCall(Strict):
    """A tool call in the answer an in-process model returned (OpenAI style): checked against the license's argument
    conditions and approvals for that tool, as the gateway checks its answers."""

    tool: str = Field(max_length=200)
    arguments: str | dict[str, Any] = Field(default="", description="As the model sent them: a JSON text or object.")


class DecisionCreate(Strict):
    """A call an in-process model (the `charter.guard` SDK) is about to make, to be checked and audited."""

    purpose: str | None = Field(default=None, max_length=200)
    tools: list[str] = Field(default_factory=list, max_length=256)
    mode: Literal["enforce", "warn", "shadow"] = "enforce"
    request_digest: str | None = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$", description="sha256 of the request payload."
    )
    response_digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    latency_ms: float | None = Field(default=None, ge=0)
    tool_call: ToolCall | None = Field(
        default=None, description="An agent's tool call on this (MCP) deployment: scope, conditions, approval."
    )
    answer_calls: list[AnswerCall] = Field(
        default_factory=list,
        max_length=64,
        description="The tool calls of the model's answer (their names also in `tools`): conditions and approval.",
    )
    approval_id: str | None = Field(
        default=None, max_length=60, description="The approval granted for the one answer call that needs one."
    )


class DecisionRead(BaseModel):
    decision_id: str
    allowed: bool
    reason: str | None = None
    detail: str = ""
    license_id: str | None = None
    deployment: str
    degraded: bool = False
    audit_seq: int | None = None
    approval_id: str | None = None
    ruled_tools: list[str] = Field(
        default_factory=list,
        description="Tools with argument conditions or approvals in the deciding license: answers calling them are "
        "decided again with `answer_calls` before the caller sees them.",
    )
