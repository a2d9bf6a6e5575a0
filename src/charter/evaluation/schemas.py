"""API/CLI-facing evaluation schemas: submitted evidence, stored evaluations, assessments."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from charter.core.schema import Strict

HEX_DIGEST = r"^(sha256:)?[0-9a-f]{64}$"


class InputFile(Strict):
    """A file the evidence was computed from, identified by its sha256 (the bytes never leave the client)."""

    name: str = Field(min_length=1, max_length=300, description="File name (no directories needed).")
    sha256: str = Field(pattern=HEX_DIGEST, description="sha256 of the file (or the directory tree).")
    size: int = Field(ge=0)
    rows: int | None = Field(default=None, ge=0, description="Data rows, for a predictions file.")


class GenaiInputFile(InputFile):
    """A GenAI tool's output (garak, Inspect, promptfoo, lm-eval) the `genai` evidence was read from."""

    tool: Literal["garak", "inspect", "promptfoo", "lm_eval"]
    version: str | None = Field(default=None, max_length=100, description="The tool's version, from its output.")
    model: str | None = Field(default=None, max_length=500, description="The target model the tool evaluated.")


class EvaluationInputs(Strict):
    predictions: InputFile | None = None
    artifact: InputFile | None = None
    genai: list[GenaiInputFile] = Field(default_factory=list, max_length=50)


class EvaluationOptions(Strict):
    label: str | None = Field(default=None, max_length=200)
    prediction: str | None = Field(default=None, max_length=200)
    score: str | None = Field(default=None, max_length=200)
    sensitive: list[str] = Field(default_factory=list, max_length=50)
    positive_label: str | None = Field(default=None, max_length=200)
    bootstrap_resamples: int | None = Field(default=None, ge=0, le=100_000)
    source: str | None = Field(default=None, max_length=40, description="predictions | model")


class EvaluationCreate(Strict):
    """Evidence computed on the user's machine: the performance, fairness, fairness_summary, scan and genai sections."""

    evidence: dict[str, Any] = Field(description="Sections performance, fairness, fairness_summary, scan, genai.")
    inputs: EvaluationInputs = Field(default_factory=EvaluationInputs)
    options: EvaluationOptions = Field(default_factory=EvaluationOptions)


class UploadMeta(Strict):
    """The `meta` part of an upload (`POST …/evaluations/upload`): how to read the predictions, and optionally the
    client's artifact scan (the artifact stays on the client; its sha256 must be the registered digest)."""

    options: EvaluationOptions = Field(default_factory=EvaluationOptions)
    evidence: dict[str, Any] = Field(default_factory=dict, description="Only the scan section.")
    inputs: EvaluationInputs = Field(default_factory=EvaluationInputs, description="Only the artifact.")


ComputedBy = Literal["server", "client"]


class EvaluationRead(BaseModel):
    id: str
    system: str
    model: str
    digest: str
    evidence_digest: str
    inputs: dict[str, Any]
    options: dict[str, Any]
    computed_by: ComputedBy = "client"
    self_reported: bool = True
    code_version: str | None = None
    created_by: str
    created_at: datetime


class AssessmentRead(BaseModel):
    """What licenses need: the verdict of the latest assessment of a digest and its failed blocker rules."""

    id: str
    digest: str
    verdict: Literal["pass", "fail"]
    blockers: list[str]
    created_at: datetime
    policy_digests: list[str]
    system: str
    model: str
    policy_set_digest: str
    evidence_digest: str
    evaluation_id: str | None = None
    counts: dict[str, int] = {}
    created_by: str = ""
    computed_by: ComputedBy | None = Field(
        default=None, description="server: computed from uploaded predictions; client: self-reported; null: none"
    )
    self_reported: bool = Field(default=False, description="The evaluation figures were computed on the client.")
    code_version: str | None = Field(default=None, description="Charter version that made the assessment.")


class RuleResultRead(BaseModel):
    rule_id: str
    title: str
    policy: str
    policy_digest: str
    severity: Literal["blocker", "major", "minor"]
    verdict: Literal["pass", "fail", "not_applicable"]
    reason: str
    controls: list[str]
    remediation: str
    evidence: dict[str, Any] = {}
    location: dict[str, Any] | None = None


class AssessmentDetail(AssessmentRead):
    policies: list[dict[str, str]]
    results: list[RuleResultRead]
    evidence: dict[str, Any]
    inputs: dict[str, Any] = {}
    options: dict[str, Any] = {}


class EvaluationResult(BaseModel):
    """The stored evaluation and the assessment made from it."""

    evaluation: EvaluationRead
    assessment: AssessmentDetail


class AssessmentCreate(Strict):
    """Re-assess a model version: its latest evaluation, the catalog as it is now, the active policies."""

    evaluation_id: str | None = Field(default=None, max_length=40, description="Default: the latest evaluation.")
