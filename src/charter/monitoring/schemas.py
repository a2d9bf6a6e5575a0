"""API/CLI-facing monitoring schemas: profile and window uploads, windows, status, metric series, breaches."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator

from charter.core.schema import Strict

HEX_DIGEST = r"^(sha256:)?[0-9a-f]{64}$"
PATH_PATTERN = r"^\$?(\.?[A-Za-z0-9_\-]+|\[\d+\])*$"


class SourceFile(Strict):
    """A file a profile or sketch was computed from, by digest (the data itself never leaves the client)."""

    name: str = Field(min_length=1, max_length=300)
    sha256: str = Field(pattern=HEX_DIGEST)
    rows: int | None = Field(default=None, ge=0)
    labels: SourceFile | None = Field(default=None, description="Late labels joined into the window.")


class CaptureConfig(Strict):
    """Where the gateway finds a call's features and prediction (never stored: only counted into sketches).

    Paths are dotted (`$.inputs`, `features`, `outputs[0].score`); `$` is the whole document. A path that leads to a
    list of objects yields one row per object (batch calls); the prediction path then leads to a list as long.
    """

    enabled: bool = True
    features: str | None = Field(
        default=None,
        pattern=PATH_PATTERN,
        max_length=200,
        description="Feature object in the request JSON (default: `$` for http deployments, `metadata` for OpenAI).",
    )
    prediction: str | None = Field(
        default=None, pattern=PATH_PATTERN, max_length=200, description="Prediction in the response JSON."
    )


class ProfileUpload(Strict):
    """A reference profile built on the client (`charter monitor reference`) from the reference data."""

    profile: dict[str, Any]
    source: SourceFile
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    evaluation: str | None = Field(
        default=None, max_length=60, description="Evaluation whose input data this is (its sha256 matched)."
    )


class ProfileRead(BaseModel):
    id: str
    model: str
    system: str
    digest: str
    fingerprint: str
    rows: int
    spec: dict[str, Any]
    source: dict[str, Any]
    capture: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    profile: dict[str, Any] | None = None


class _Span(Strict):
    start: datetime
    end: datetime
    sketch: dict[str, Any]

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone (e.g. 2026-11-01T00:00:00Z)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class CaptureUpload(_Span):
    """Calls of an in-process model counted by the `charter.guard` SDK into one window [start, end)."""


class CaptureTarget(BaseModel):
    """What the SDK needs to capture calls of a deployment: its reference profile and the server's window length."""

    deployment: str
    model: str
    digest: str
    window_s: float
    profile: ProfileRead


class WindowUpload(_Span):
    """A window sketch computed on the client (`charter monitor ingest`) or by an SDK."""

    source: SourceFile | None = Field(
        default=None, description="The file sketched; re-uploading the same file replaces its earlier sketch."
    )
    kind: Literal["upload", "sdk"] = "upload"
    env: str = Field(
        default="production",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,59}$",
        description="The environment the data comes from: the window acts only on licenses of this environment.",
    )


class CheckRead(BaseModel):
    """One license condition on one window."""

    license: str
    license_state: str | None = None
    condition: str
    metric: str
    op: str
    threshold: float
    action: str
    windows: int
    status: str  # holds | breached | no_data
    observed: float | None
    consecutive: int
    fired: str | None = None
    outcome: str | None = None
    window: str | None = None
    checked_at: datetime | None = None


class WindowRead(BaseModel):
    id: str
    model: str
    digest: str
    env: str = "production"
    start: datetime
    end: datetime
    rows: int
    status: str
    sources: list[str]
    metrics: dict[str, float | None]
    checks: list[CheckRead] = Field(default_factory=list)
    report: dict[str, Any] | None = None
    updated_at: datetime
    contributions: list[dict[str, Any]] | None = Field(
        default=None, description="Every contribution to the window, oldest first: merges and corrections (replace)."
    )


class StatusRead(BaseModel):
    """Where a model version stands: its profile, the latest window and every live license condition on it."""

    model: str
    digest: str
    profile: ProfileRead | None
    window: WindowRead | None
    licenses: list[dict[str, Any]]
    conditions: list[CheckRead]
    breached: bool


class Point(BaseModel):
    window: str
    start: datetime
    end: datetime
    value: float | None


class MetricSeries(BaseModel):
    metric: str
    points: list[Point]


class BreachRead(BaseModel):
    license: str
    model: str
    condition: str
    metric: str
    value: float | None
    threshold: float
    action: str
    fired: str | None
    outcome: str | None
    window: str
    start: datetime
    end: datetime
    at: datetime


class ChartWindow(BaseModel):
    id: str
    start: str
    end: str
    rows: int


class ChartSeries(BaseModel):
    label: str
    metric: str
    values: list[float | None]


class ChartThreshold(BaseModel):
    label: str
    value: float
    kind: Literal["breach", "warn"]
    metric: str
    license: str | None = None


class ChartBreach(BaseModel):
    x: int
    y: float | None
    label: str
    metric: str
    license: str
    window: str
    fired: str | None


class ChartRead(BaseModel):
    """Chart data of a model version: x = window ends (unix seconds), one series per metric, threshold lines and
    breach markers (the dashboard's `static/charts.js` shape)."""

    id: str
    title: str
    model: str
    x: list[int]
    windows: list[ChartWindow]
    series: list[ChartSeries]
    thresholds: list[ChartThreshold]
    breaches: list[ChartBreach]
