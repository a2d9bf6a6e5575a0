"""The system-registration wizard: the EU AI Act questionnaire (`charter.catalog.questionnaire`) as form steps, each
question explained by the control it decides (from the built-in control catalogs), and the form values turned back
into the API's `SystemCreate`.

The steps carry every answer forward as hidden fields; nothing is stored until the last step registers the system
through the catalog service.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from charter.catalog.questionnaire import PROHIBITED_CONTROLS, Questionnaire
from charter.catalog.schemas import SystemCreate
from charter.core.errors import NotFound
from charter.policies.catalogs import builtin_catalog
from charter.web import forms

ABOUT = ("name", "purpose", "team", "deployer", "human_oversight", "dpia_reference")
ABOUT_HELP = {
    "name": "Lowercase, digits and .-_ ; how everyone (CLI, API, licenses) will refer to it.",
    "purpose": "The intended purpose in plain words: the EU AI Act classifies a system by what it is for.",
    "team": "Owner team (optional): team-scoped roles apply to it.",
    "deployer": "The organisation that puts it into service (optional).",
    "human_oversight": "How people oversee its outputs (Art. 14), e.g. who reviews a decision (optional).",
    "dpia_reference": "Reference of the data protection impact assessment, if there is one (optional).",
}
ABOUT_LABEL = {
    "name": "System name",
    "purpose": "Intended purpose",
    "team": "Owner team",
    "deployer": "Deployer",
    "human_oversight": "Human oversight",
    "dpia_reference": "DPIA reference",
}
# The control whose summary explains why a question matters (besides Art. 5, mapped by the questionnaire itself).
WHY = {
    "annex_i.product_legislation": "EUAIA-ART6-1",
    "annex_i.safety_component": "EUAIA-ART6-1",
    "annex_i.third_party_assessment": "EUAIA-ART6-1",
    "annex_iii.point": "EUAIA-ART6-2",
    "annex_iii.profiling": "GDPR-ART22",
    "annex_iii.derogation": "EUAIA-ART6-3",
    "transparency.interacts_with_natural_persons": "EUAIA-ART50-1",
    "transparency.generates_synthetic_content": "EUAIA-ART50-2",
    "transparency.emotion_recognition": "EUAIA-ART50-3",
    "transparency.biometric_categorisation": "EUAIA-ART50-3",
    "transparency.deepfake_output": "EUAIA-ART50-4",
    "transparency.public_interest_text": "EUAIA-ART50-4",
    "gpai.general_purpose": "EUAIA-ART51",
    "gpai.training_compute_flops": "EUAIA-ART51",
    "gpai.designated_systemic": "EUAIA-ART51",
    "context.deployer_type": "EUAIA-ART27",
    "context.decisions_about_persons": "GDPR-ART22",
    "context.decision_mode": "GDPR-ART22",
    "context.effect": "GDPR-ART22",
    "data.special_category_data": "GDPR-ART9",
    "data.third_country_transfer": "GDPR-ART44",
    "data.dpia_trigger": "GDPR-ART35",
    **{f"prohibited.{k}": v for k, v in PROHIBITED_CONTROLS.items()},
}


@dataclass(frozen=True, slots=True)
class Question:
    """One questionnaire field as a form control."""

    name: str  # section.field, also the form field name after the `q.` prefix
    label: str
    widget: str  # yesno | choice | list | number | text | longtext
    options: tuple[str, ...] = ()
    required: bool = False
    default: str = ""
    why: str = ""  # the deciding control's summary
    why_ref: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    intro: str
    sections: tuple[str, ...] = ()
    questions: tuple[Question, ...] = field(default_factory=tuple)
    extra: tuple[dict[str, str], ...] = ()  # reference text shown with the step (e.g. the Annex III areas)

    @property
    def fields(self) -> tuple[str, ...]:
        return ABOUT if self.id == "about" else tuple(q.name for q in self.questions)


def _widget(info: FieldInfo) -> tuple[str, tuple[str, ...]]:
    ann = info.annotation
    args = [a for a in get_args(ann) if a is not type(None)] if get_origin(ann) in (Union, types.UnionType) else [ann]
    base = args[0]
    if base is bool:
        return "yesno", ()
    if isinstance(base, type) and issubclass(base, Enum):
        return "choice", tuple(str(m.value) for m in base)
    if get_origin(base) is list:
        return "list", ()
    if base in (float, int):
        return "number", ()
    return "text", ()


def _why(name: str) -> tuple[str, str]:
    control_id = WHY.get(name)
    if control_id is None:
        return "", ""
    try:
        control = builtin_catalog().get(control_id)
    except NotFound:
        return "", ""
    return control.summary, f"{control.ref} · {control.title}."


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return ""
    value = info.get_default(call_default_factory=True)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def questions_of(section: str) -> tuple[Question, ...]:
    """The questions of one questionnaire section, in the schema's order."""
    model = Questionnaire.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    out = []
    for name, info in model.model_fields.items():
        widget, options = _widget(info)
        if name == "derogation_rationale":
            widget = "longtext"
        why, ref = _why(f"{section}.{name}")
        label = info.description or name.replace("_", " ")
        out.append(Question(f"{section}.{name}", label, widget, options, info.is_required(), _default(info), why, ref))
    return tuple(out)


def _annex_iii_areas() -> tuple[dict[str, str], ...]:
    out = []
    for n in range(1, 9):
        try:
            c = builtin_catalog().get(f"EUAIA-ANNEXIII-{n}")
        except NotFound:
            continue
        out.append({"point": str(n), "title": c.title.split(": ", 1)[-1], "summary": c.summary})
    return tuple(out)


@lru_cache(maxsize=1)
def steps() -> tuple[Step, ...]:
    """The wizard's steps, in order (the last one, `review`, shows the classification before registering)."""
    return (
        Step("about", "The system", "What the system is and who answers for it."),
        Step(
            "prohibited",
            "Prohibited practices (Art. 5)",
            "The EU AI Act bans these practices outright. Answer every point; answer yes only where the practice is "
            "present and no Art. 5 exception applies. A single yes makes the system prohibited: it is registered, "
            "but it can never be licensed.",
            ("prohibited",),
            questions_of("prohibited"),
        ),
        Step(
            "high-risk",
            "High-risk routes (Art. 6, Annex I and III)",
            "A system is high-risk when it is (a safety component of) a product under Annex I legislation that needs "
            "a third-party conformity assessment, or when its intended purpose falls under a point of Annex III — "
            "unless the Art. 6(3) derogation applies (never when it profiles people).",
            ("annex_i", "annex_iii"),
            questions_of("annex_i") + questions_of("annex_iii"),
            _annex_iii_areas(),
        ),
        Step(
            "transparency",
            "Transparency and general-purpose AI (Art. 50–55)",
            "These answers add transparency duties (telling people they deal with an AI, marking synthetic content) "
            "and the obligations of general-purpose AI models.",
            ("transparency", "gpai"),
            questions_of("transparency") + questions_of("gpai"),
        ),
        Step(
            "context",
            "Deployment context and data (GDPR)",
            "How and on whom the system acts, and what personal data it processes: these decide deployer duties and "
            "the GDPR controls (Art. 9, 22, 35, 44).",
            ("context", "data"),
            questions_of("context") + questions_of("data"),
        ),
        Step("review", "Review and register", "The tier and obligations these answers give. Nothing is stored yet."),
    )


def step_index(step_id: str) -> int:
    ids = [s.id for s in steps()]
    return ids.index(step_id) if step_id in ids else 0


def all_questions() -> dict[str, Question]:
    return {q.name: q for s in steps() for q in s.questions}


def values_from(form: dict[str, str]) -> dict[str, str]:
    """Every wizard field from a submitted form (about fields as named, questions under `q.`), defaults filled."""
    out = {name: form.get(name, "").strip() for name in ABOUT}
    for name, q in all_questions().items():
        raw = form.get(f"q.{name}")
        out[f"q.{name}"] = q.default if raw is None else raw.strip()
    return out


def _answer(q: Question, raw: str, errors: dict[str, str]) -> Any:
    """One raw form value as the questionnaire expects it; `...` when unanswered (the schema then decides)."""
    if q.widget == "yesno":
        return {"yes": True, "no": False}.get(raw, ...)
    if raw == "":
        return None if not q.required and q.widget != "list" else ...
    if q.widget == "list":
        return forms.split_list(raw)
    if q.widget == "number":
        try:
            return float(raw)
        except ValueError:
            errors[f"q.{q.name}"] = f"'{raw[:30]}' is not a number (e.g. 1e25)"
            return ...
    return raw


def build(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(SystemCreate document, errors found while converting) from the wizard values."""
    errors: dict[str, str] = {}
    answers: dict[str, dict[str, Any]] = {}
    for name, q in all_questions().items():
        value = _answer(q, values.get(f"q.{name}", ""), errors)
        if value is not ...:
            section, key = name.split(".", 1)
            answers.setdefault(section, {})[key] = value
    answers.setdefault("prohibited", {})
    doc: dict[str, Any] = {"name": values.get("name", ""), "purpose": values.get("purpose", ""), "answers": answers}
    for name in ABOUT[2:]:
        if values.get(name):
            doc[name] = values[name]
    return doc, errors


def validate(values: dict[str, str]) -> tuple[SystemCreate | None, dict[str, str]]:
    """The wizard values as `SystemCreate`, or the errors by wizard field name (`name`, `q.annex_iii.point`, …)."""
    doc, errors = build(values)
    known = [*ABOUT, *(f"answers.{n}" for n in all_questions())]
    try:
        body = SystemCreate.model_validate(doc)
    except ValidationError as exc:
        for key, msg in forms.pydantic_errors(exc, known).items():
            name = f"q.{key.removeprefix('answers.')}" if key.startswith("answers.") else key
            if key.startswith("answers.prohibited.") and "required" in msg.lower():
                msg = "answer yes or no: every Art. 5(1) point must be answered"
            errors.setdefault(name, msg)
        return None, errors
    return (None, errors) if errors else (body, {})


def field_name(error_field: str | None) -> str:
    """A service error's field (`answers.annex_iii.derogation`, `name`) as the wizard's field name."""
    if not error_field:
        return forms.FORM
    if error_field.startswith("answers."):
        return f"q.{error_field.removeprefix('answers.')}"
    return error_field if error_field in ABOUT else forms.FORM


def step_of(name: str) -> int:
    """The index of the step that asks field `name` (the first step for form-level errors)."""
    for i, s in enumerate(steps()):
        if name in s.fields or name.removeprefix("q.") in s.fields:
            return i
    return 0
