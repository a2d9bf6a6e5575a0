"""API/CLI-facing catalog schemas: systems, model versions, datasets, lineage."""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from charter.catalog.questionnaire import Questionnaire
from charter.core.schema import Strict

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
DIGEST_PATTERN = r"^(sha256:)?[0-9a-f]{64}$"
PURPOSE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,80}$"


class LawfulBasis(StrEnum):
    """GDPR Art. 6(1) lawful bases."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal-obligation"
    VITAL_INTERESTS = "vital-interests"
    PUBLIC_TASK = "public-task"
    LEGITIMATE_INTERESTS = "legitimate-interests"


class DatasetRole(StrEnum):
    TRAINING = "training"
    VALIDATION = "validation"
    TEST = "test"
    REFERENCE = "reference"


MAX_INT = 2**62


def _clean(value: Any, path: str) -> None:
    """Refuse what PostgreSQL text/JSONB cannot store (NUL characters, NaN/Infinity) before it reaches the DB."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'value'}: NUL characters are not allowed")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path or 'value'}: NaN and Infinity are not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean(str(key), path)
            _clean(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _clean(item, f"{path}[{i}]")


class _Storable(Strict):
    """Input that is stored as JSON: no NaN or infinity, no control characters (see `_clean`)."""

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _clean(data, "")
        return data


class _SystemFields(_Storable):
    deployer: str | None = Field(default=None, max_length=200, description="Organisation that deploys the system.")
    human_oversight: str | None = Field(default=None, max_length=4000, description="How humans oversee it.")
    dpia_reference: str | None = Field(default=None, max_length=200, description="Reference of the DPIA.")
    log_retention_days: int | None = Field(default=None, ge=0, le=36500, description="Days logs are kept.")
    access_restricted: bool = Field(default=False, description="Artifact and endpoint restricted to named principals.")


class SystemCreate(_SystemFields):
    name: str = Field(pattern=NAME_PATTERN, description="Lowercase system name.")
    purpose: str = Field(min_length=1, max_length=4000, description="Intended purpose.")
    team: str | None = Field(default=None, pattern=NAME_PATTERN, description="Owner team.")
    answers: Questionnaire = Field(description="EU AI Act risk questionnaire.")


class SystemUpdate(_Storable):
    """Fields to change; absent fields are kept."""

    purpose: str | None = Field(default=None, min_length=1, max_length=4000)
    team: str | None = Field(default=None, pattern=NAME_PATTERN)
    deployer: str | None = Field(default=None, max_length=200)
    human_oversight: str | None = Field(default=None, max_length=4000)
    dpia_reference: str | None = Field(default=None, max_length=200)
    log_retention_days: int | None = Field(default=None, ge=0, le=36500)
    access_restricted: bool | None = None
    thresholds: dict[str, float | None] | None = Field(
        default=None,
        description='Policy thresholds to tighten for this system, e.g. {"dp_diff_max": 0.05}; null resets one.',
    )


class SystemClassify(_Storable):
    answers: Questionnaire


class ObligationRead(BaseModel):
    id: str
    framework: str
    ref: str
    title: str
    why: str
    legal_status: str = ""
    legal_source: str = ""


class SystemRead(BaseModel):
    id: str
    name: str
    team: str | None = None
    purpose: str
    deployer: str | None = None
    risk_tier: str
    is_prohibited: bool
    gpai: bool
    gpai_systemic: bool
    annex_iii_area: str | None = None
    personal_data: bool
    special_category_data: bool
    human_oversight: str | None = None
    dpia_reference: str | None = None
    log_retention_days: int | None = None
    access_restricted: bool
    production_licensed: bool
    obligations: list[str]
    tier_reasons: list[str]
    obligations_explained: list[ObligationRead]
    answers: dict[str, Any]
    thresholds: dict[str, float] = Field(default_factory=dict, description="Tightened policy thresholds.")
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class FileIn(_Storable):
    path: str = Field(min_length=1, max_length=1000)
    size: int = Field(ge=0, le=MAX_INT)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SignatureIn(_Storable):
    bundle: str = Field(min_length=2, max_length=256 << 10, description="The model-signing bundle (model.sig), JSON.")
    public_key: str = Field(min_length=20, max_length=16 << 10, description="The signer's public key, PEM.")


class ModelVersionCreate(_Storable):
    version: str = Field(pattern=VERSION_PATTERN, description="Version label, e.g. 1.0.0.")
    digest: str = Field(pattern=DIGEST_PATTERN, description="sha256:<hex> of the file, or of the directory tree.")
    size_bytes: int = Field(ge=0, le=MAX_INT)
    files: list[FileIn] = Field(default_factory=list, max_length=4_000, description="Files the digest covers.")
    uri: str | None = Field(default=None, max_length=1000, description="Where the artifact lives.")
    framework: str | None = Field(default=None, max_length=64)
    format: str | None = Field(default=None, max_length=32)
    card: dict[str, Any] = Field(default_factory=dict, description="Model card fields (HF front matter + sections).")
    license: str | None = Field(default=None, max_length=300, description="Upstream license (SPDX or HF id).")
    restricted_purposes: list[str] = Field(default_factory=list, max_length=100)
    signature: SignatureIn | None = Field(
        default=None, description="An OpenSSF model-signing signature over these files, verified before recording."
    )


class ModelVersionUpdate(_Storable):
    """Only the fields sent change; null (or an empty string) clears uri, framework, format or license."""

    uri: str | None = Field(default=None, max_length=1000)
    framework: str | None = Field(default=None, max_length=64)
    format: str | None = Field(default=None, max_length=32)
    card: dict[str, Any] = Field(default_factory=dict, description="The whole card; {} clears it (null is refused).")
    license: str | None = Field(default=None, max_length=300)
    restricted_purposes: list[str] | None = Field(default=None, max_length=100)

    @field_validator("uri", "framework", "format", "license")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value is None or value.strip() else None


class ModelVersionRead(BaseModel):
    id: str
    system: str
    version: str
    ref: str
    digest: str
    size_bytes: int
    files: list[dict[str, Any]]
    uri: str | None = None
    framework: str | None = None
    format: str | None = None
    card: dict[str, Any]
    license: str | None = None
    restricted_purposes: list[str]
    usage_terms: dict[str, Any]
    locked: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None = None
    retired_by: str | None = None
    retire_reason: str | None = None
    signature: dict[str, Any] | None = Field(
        default=None, description="The verified signature: method, signer (sha256 of the key), bundle_sha256."
    )


class ModelRetire(_Storable):
    reason: str = Field(min_length=1, max_length=2000, description="Why the version is withdrawn for good.")


class DatasetCreate(_Storable):
    name: str = Field(pattern=NAME_PATTERN)
    version: str | None = Field(default=None, pattern=VERSION_PATTERN, description="Default: next integer.")
    team: str | None = Field(default=None, pattern=NAME_PATTERN)
    digest: str | None = Field(default=None, pattern=DIGEST_PATTERN)
    size_bytes: int | None = Field(default=None, ge=0, le=MAX_INT)
    uri: str | None = Field(default=None, max_length=1000)
    source: str | None = Field(default=None, max_length=1000, description="Where the data comes from.")
    license: str | None = Field(default=None, max_length=300, description="SPDX license expression.")
    lawful_basis: LawfulBasis | None = Field(default=None, description="GDPR Art. 6 basis, for personal data.")
    personal_data: bool = False
    special_category: bool = Field(default=False, description="GDPR Art. 9 data (implies personal data).")
    consent_ref: str | None = Field(default=None, max_length=300)
    retention_until: date | None = None
    data_format: str | None = Field(default=None, max_length=32)
    schema_: list[dict[str, str]] | None = Field(default=None, alias="schema", max_length=5000)
    row_count: int | None = Field(default=None, ge=0, le=MAX_INT)
    derived_from: list[str] = Field(default_factory=list, max_length=100, description="Upstream dataset refs.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _special_is_personal(self) -> DatasetCreate:
        if self.special_category:
            self.personal_data = True
        return self


class DatasetRead(BaseModel):
    id: str
    name: str
    version: str
    ref: str
    team: str | None = None
    digest: str | None = None
    size_bytes: int | None = None
    uri: str | None = None
    source: str | None = None
    license: str | None = None
    lawful_basis: str | None = None
    personal_data: bool
    special_category: bool
    consent_ref: str | None = None
    retention_until: date | None = None
    data_format: str | None = None
    schema_: list[dict[str, Any]] | None = Field(default=None, serialization_alias="schema")
    row_count: int | None = None
    derived_from: list[str] = []
    created_by: str
    created_at: datetime

    model_config = ConfigDict(populate_by_name=True)


class LineageLink(_Storable):
    dataset: str = Field(max_length=200, description="Source dataset: NAME or NAME@VERSION.")
    model: str | None = Field(default=None, max_length=200, description="Target model version SYSTEM@VERSION.")
    derived: str | None = Field(default=None, max_length=200, description="Target dataset derived from the source.")
    role: DatasetRole | None = Field(default=None, description="Role for a model target.")

    @model_validator(mode="after")
    def _one_target(self) -> LineageLink:
        if (self.model is None) == (self.derived is None):
            raise ValueError("give exactly one target: model (SYSTEM@VERSION) or derived (a dataset)")
        if self.model is not None and self.role is None:
            raise ValueError("a model target needs a role: training, validation, test or reference")
        return self


class LineageEdgeRead(BaseModel):
    id: str
    source: str
    target: str
    target_kind: str
    role: str
    created_by: str
    created_at: datetime


class Provenance(BaseModel):
    complete: bool
    issues: list[str]


class LineageNode(BaseModel):
    ref: str
    role: str
    digest: str | None = None
    license: str | None = None
    lawful_basis: str | None = None
    personal_data: bool = False
    special_category: bool = False
    upstream: list[LineageNode] = []


class LineageRead(BaseModel):
    model: str
    digest: str
    format: str | None = None
    datasets: list[LineageNode]
    provenance: Provenance


class CycloneDxBom(BaseModel):
    """The catalog as a CycloneDX 1.6 BOM (JSON); `components` and `dependencies` follow the CycloneDX schema."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    schema_: str = Field(alias="$schema")
    bom_format: str = Field(alias="bomFormat")
    spec_version: str = Field(alias="specVersion")
    serial_number: str = Field(alias="serialNumber")
    version: int
    metadata: dict[str, Any]
    components: list[dict[str, Any]]
    dependencies: list[dict[str, Any]]
