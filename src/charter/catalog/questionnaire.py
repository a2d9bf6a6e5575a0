"""The EU AI Act risk questionnaire as a typed schema; its answers are stored with the system.

Every Art. 5(1) point must be answered explicitly (the prohibited-practice screening); the other sections default
to "does not apply". Field descriptions are the questions asked by the interactive CLI.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from charter.core.schema import Strict

ANNEX_III_POINT = r"^[1-8](\([a-h]\))?$"


class ProhibitedPractices(Strict):
    """EU AI Act Art. 5(1): answer true only where the practice is present and no Art. 5 exception applies."""

    manipulation: bool = Field(
        description="Art. 5(1)(a): subliminal, manipulative or deceptive techniques distorting behaviour with "
        "significant harm?"
    )
    exploiting_vulnerabilities: bool = Field(
        description="Art. 5(1)(b): exploits vulnerabilities of age, disability or social/economic situation "
        "causing harm?"
    )
    social_scoring: bool = Field(
        description="Art. 5(1)(c): scores people by social behaviour or traits leading to unjustified "
        "detrimental treatment?"
    )
    crime_prediction_profiling: bool = Field(
        description="Art. 5(1)(d): predicts a person's risk of offending based solely on profiling or "
        "personality traits?"
    )
    facial_scraping: bool = Field(
        description="Art. 5(1)(e): builds facial-recognition databases by untargeted scraping of the internet or CCTV?"
    )
    emotion_recognition_work_education: bool = Field(
        description="Art. 5(1)(f): infers emotions at the workplace or in education (not for medical or safety "
        "reasons)?"
    )
    biometric_categorisation_sensitive: bool = Field(
        description="Art. 5(1)(g): categorises people from biometrics to deduce race, politics, religion, sex life...?"
    )
    realtime_remote_biometric_id: bool = Field(
        description="Art. 5(1)(h): real-time remote biometric identification in public spaces for law enforcement, "
        "outside the authorised Art. 5(2)-(7) cases?"
    )
    intimate_imagery: bool = Field(
        description="Art. 5(1)(ba): generates non-consensual intimate imagery of identifiable persons?"
    )
    csam: bool = Field(description="Art. 5(1)(bb): generates or manipulates child sexual abuse material?")


NO_PROHIBITED: dict[str, bool] = dict.fromkeys(ProhibitedPractices.model_fields, False)
"""The Art. 5(1) screening of a system with no prohibited practice: every point answered "no"."""

PROHIBITED_CONTROLS: dict[str, str] = {
    "manipulation": "EUAIA-ART5-1A",
    "exploiting_vulnerabilities": "EUAIA-ART5-1B",
    "social_scoring": "EUAIA-ART5-1C",
    "crime_prediction_profiling": "EUAIA-ART5-1D",
    "facial_scraping": "EUAIA-ART5-1E",
    "emotion_recognition_work_education": "EUAIA-ART5-1F",
    "biometric_categorisation_sensitive": "EUAIA-ART5-1G",
    "realtime_remote_biometric_id": "EUAIA-ART5-1H",
    "intimate_imagery": "EUAIA-ART5-1BA",
    "csam": "EUAIA-ART5-1BB",
}


class AnnexISection(StrEnum):
    """Annex I Section A (new legislative framework) or Section B (e.g. vehicles, aviation, marine, rail)."""

    A = "A"
    B = "B"


SECTION_B_ACTS = re.compile(
    r"\b(2018/858|2019/2144|167/2013|168/2013|2018/1139|300/2008|2014/90|2016/797|(motor )?vehicles?|aviation|"
    r"aircraft|marine equipment|rail(way)?s?|interoperability of the rail|agricultural|forestry|"
    r"two- or three-wheel)\b",
    re.IGNORECASE,
)
"""Words and act numbers of Annex I Section B legislation, used when `annex_i.section` is not answered."""


class AnnexI(Strict):
    """Art. 6(1) + Annex I: product-safety route to high risk."""

    product_legislation: str | None = Field(
        default=None,
        max_length=200,
        description="Annex I Union harmonisation act covering the product (e.g. 'medical devices'), or none",
    )
    safety_component: bool = Field(
        default=False, description="Is the AI the product itself or a safety component of it (Art. 6(1)(a))?"
    )
    third_party_assessment: bool = Field(
        default=False, description="Does the product need a third-party conformity assessment for health/safety?"
    )
    section: AnnexISection | None = Field(
        default=None,
        description="Annex I Section of that legislation: A (machinery, toys, medical devices...) or B (vehicles, "
        "aviation, marine equipment, rail: Art. 2(2) limits the Act to Art. 6(1), 102-109 and 112); none = derive",
    )

    def section_b(self) -> bool:
        """Section B, as answered or (unanswered) as the legislation's name reads."""
        if self.section is not None:
            return self.section is AnnexISection.B
        return SECTION_B_ACTS.search(self.product_legislation or "") is not None


class Derogation(StrEnum):
    """Art. 6(3) conditions (a)-(d) under which an Annex III system is not high-risk."""

    NARROW_PROCEDURAL_TASK = "narrow_procedural_task"
    IMPROVES_HUMAN_ACTIVITY = "improves_human_activity"
    DETECTS_PATTERNS = "detects_patterns"
    PREPARATORY_TASK = "preparatory_task"


class AnnexIII(Strict):
    """Art. 6(2) + Annex III: use-case route to high risk, with the Art. 6(3) derogation."""

    point: str | None = Field(
        default=None,
        pattern=ANNEX_III_POINT,
        description="Annex III point of the intended purpose, e.g. '4(a)' or '5(b)', or none",
    )
    profiling: bool = Field(default=False, description="Does the system profile natural persons?")
    derogation: Derogation | None = Field(
        default=None,
        description="Art. 6(3) condition claimed: narrow_procedural_task | improves_human_activity | "
        "detects_patterns | preparatory_task, or none",
    )
    derogation_rationale: str | None = Field(
        default=None,
        max_length=4000,
        description="Art. 6(4): the documented assessment of why the derogation applies (required with a derogation)",
    )
    excluded_point: str | None = Field(
        default=None,
        pattern=ANNEX_III_POINT,
        description="An Annex III point the use case resembles but falls outside of (e.g. '5(b)' for financial-fraud "
        "detection, '1(a)' for biometric verification), or none",
    )
    exclusion_reason: str | None = Field(
        default=None,
        max_length=4000,
        description="Why the use case falls outside that point (the Annex III carve-out relied on)",
    )

    @model_validator(mode="after")
    def _exclusion_has_a_reason(self) -> AnnexIII:
        if self.excluded_point is not None and not (self.exclusion_reason or "").strip():
            raise ValueError("annex_iii.exclusion_reason is required when annex_iii.excluded_point is set")
        if self.excluded_point is not None and self.excluded_point == self.point:
            raise ValueError("annex_iii.excluded_point cannot be the same as annex_iii.point")
        return self


class Transparency(Strict):
    """Art. 50 transparency triggers."""

    interacts_with_natural_persons: bool = Field(default=False, description="Does it interact directly with people?")
    generates_synthetic_content: bool = Field(
        default=False, description="Does it generate synthetic audio, image, video or text?"
    )
    emotion_recognition: bool = Field(default=False, description="Does it recognise emotions?")
    biometric_categorisation: bool = Field(default=False, description="Does it categorise people from biometrics?")
    deepfake_output: bool = Field(default=False, description="Does it produce deep fakes?")
    public_interest_text: bool = Field(
        default=False,
        description="Does it publish AI-generated text informing the public on matters of public interest?",
    )
    facial_recognition_db: bool = Field(
        default=False, description="Does it create or expand a facial-recognition database (capability)?"
    )
    realtime_rbi: bool = Field(
        default=False, description="Does it perform real-time remote biometric identification (capability)?"
    )
    biometric_verification: bool = Field(
        default=False,
        description="Does it perform biometric verification only (confirming a person is who they claim to be)?",
    )


class Gpai(Strict):
    """Arts 51-55: general-purpose AI model."""

    general_purpose: bool = Field(default=False, description="Is the model a general-purpose AI model (Art. 3(63))?")
    training_compute_flops: float | None = Field(
        default=None, ge=0, description="Cumulative training compute in FLOP, if known"
    )
    designated_systemic: bool = Field(default=False, description="Designated by the Commission as systemic risk?")
    established_outside_union: bool = Field(
        default=False, description="Is the model's provider established outside the Union (Art. 54)?"
    )
    open_source: bool = Field(
        default=False,
        description="Art. 53(2): released under a free and open-source licence with weights, architecture and usage "
        "information public?",
    )


class DeployerType(StrEnum):
    PUBLIC_AUTHORITY = "public_authority"
    PUBLIC_SERVICE_PROVIDER = "public_service_provider"
    PRIVATE = "private"


class Role(StrEnum):
    """Art. 3(3) provider, Art. 3(4) deployer."""

    PROVIDER = "provider"
    DEPLOYER = "deployer"
    BOTH = "both"

    def roles(self) -> tuple[str, ...]:
        return ("provider", "deployer") if self is Role.BOTH else (self.value,)


class DecisionMode(StrEnum):
    ADVISORY = "advisory"
    HUMAN_IN_LOOP = "human_in_loop"
    SOLELY_AUTOMATED = "solely_automated"


class Effect(StrEnum):
    NONE = "none"
    LEGAL = "legal"
    SIMILARLY_SIGNIFICANT = "similarly_significant"


class Context(Strict):
    """Deployment context (the catalog's `applies_when` vocabulary)."""

    deployer_type: DeployerType = Field(
        default=DeployerType.PRIVATE, description="public_authority | public_service_provider | private"
    )
    deployment_context: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Where it is used: workplace, education, public_space, consumer, internal, ...",
    )
    decisions_about_persons: bool = Field(
        default=False, description="Does it make or assist decisions about natural persons?"
    )
    decision_mode: DecisionMode = Field(
        default=DecisionMode.ADVISORY, description="advisory | human_in_loop | solely_automated"
    )
    effect: Effect = Field(default=Effect.NONE, description="Effect of decisions: none | legal | similarly_significant")
    generative: bool = Field(default=False, description="Is it a generative AI system?")
    role: Role = Field(
        default=Role.BOTH,
        description="Your role for this system: provider (Art. 3(3), develops it or has it developed and places it "
        "on the market under your name) | deployer (Art. 3(4), uses it under your authority) | both",
    )

    @field_validator("deployment_context", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class DataUse(Strict):
    """GDPR triggers."""

    personal_data: bool = Field(default=False, description="Does it process personal data?")
    special_category_data: bool = Field(default=False, description="Does it process GDPR Art. 9 special-category data?")
    third_country_transfer: bool = Field(default=False, description="Do personal data leave the EEA?")
    dpia_trigger: bool = Field(default=False, description="Is any GDPR Art. 35(3) / national-list DPIA trigger met?")


class Questionnaire(Strict):
    """All answers. Only `prohibited` is mandatory: every Art. 5(1) point must be answered."""

    prohibited: ProhibitedPractices
    annex_i: AnnexI = Field(default_factory=AnnexI)
    annex_iii: AnnexIII = Field(default_factory=AnnexIII)
    transparency: Transparency = Field(default_factory=Transparency)
    gpai: Gpai = Field(default_factory=Gpai)
    context: Context = Field(default_factory=Context)
    data: DataUse = Field(default_factory=DataUse)


def example() -> dict[str, Any]:
    """A complete answers document with every default spelled out (for docs and `--example`)."""
    blank = dict.fromkeys(ProhibitedPractices.model_fields, False)
    return Questionnaire.model_validate({"prohibited": blank}).model_dump(mode="json")


def questions() -> list[tuple[str, str, str, Any]]:
    """(section, field, question, default) for every answer, in order; default is `...` when one is required."""
    out: list[tuple[str, str, str, Any]] = []
    for section, info in Questionnaire.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            default = ... if field.is_required() else field.get_default(call_default_factory=True)
            out.append((section, name, field.description or name, default))
    return out
