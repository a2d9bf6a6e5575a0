"""Annex IV facts a model card may state: looked up by key (flat or front matter) or by section heading.

Only what the card says is reported; an absent, empty or placeholder value ("TODO", "[More Information Needed]")
counts as missing. The documentation fields the evaluation domain already knows come from its `card_fields`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from charter.evaluation.documentation import REQUIRED_FIELDS, card_fields

MAX_TEXT = 4000
_PLACEHOLDER = re.compile(
    r"\[more information needed\]|\{\{.*?\}\}|<!--.*?-->|^\s*(todo|tbd|n/?a|none|-)\s*$", re.I | re.S
)

# field: (keys, lower-cased with '_' for ' ' and '-'; heading pattern)
EXTRA_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "interactions": (
        ("interactions", "dependencies", "integrations", "interaction_with_other_systems", "other_systems"),
        r"interact|dependenc|integration",
    ),
    "software_versions": (("software_versions", "software", "firmware", "requirements"), r"software|firmware"),
    "update_requirements": (("update_requirements", "updates", "update_policy"), r"update"),
    "hardware": (
        ("hardware", "target_hardware", "hardware_requirements", "compute", "compute_infrastructure"),
        r"hardware|compute infrastructure|compute requirements",
    ),
    "user_interface": (("user_interface", "deployer_interface", "ui"), r"user interface|interface for deployers"),
    "instructions_for_use": (
        ("instructions_for_use", "how_to_use", "usage", "how_to_get_started"),
        r"instructions for use|how to (get started|use)|^usage$|getting started",
    ),
    "base_model": (
        ("base_model", "pretrained_model", "third_party_models", "third_party_tools"),
        r"base model|pre-?trained|third[- ]party",
    ),
    "development_process": (
        ("development_process", "development", "training_procedure", "methods", "training_details"),
        r"training (procedure|details)|development|method",
    ),
    "design_choices": (
        (
            "design_choices",
            "design_specifications",
            "design",
            "trade_offs",
            "optimisation_target",
            "optimization_target",
        ),
        r"design|trade-?offs|optimi[sz]ation",
    ),
    "architecture": (
        ("architecture", "model_architecture", "model_type", "algorithm"),
        r"architecture|model (details|description|type)|technical specifications",
    ),
    "predetermined_changes": (
        ("predetermined_changes", "pre_determined_changes", "planned_changes"),
        r"pre-?determined changes|planned changes",
    ),
    "input_data": (
        ("input_data", "input_specification", "input_format", "inputs"),
        r"^inputs?$|input (data|spec|format)",
    ),
    "metrics_rationale": (
        ("metrics_rationale", "metric_rationale", "metrics_justification", "choice_of_metrics"),
        r"(why|choice of|rationale|appropriateness).*metric|metrics? (rationale|choice|appropriateness)",
    ),
    "standards": (
        ("harmonised_standards", "harmonized_standards", "standards", "standards_applied", "common_specifications"),
        r"standard",
    ),
    "declaration_of_conformity": (
        ("declaration_of_conformity", "eu_declaration_of_conformity", "doc_reference", "conformity_declaration"),
        r"declaration of conformity",
    ),
    "post_market_monitoring": (
        ("post_market_monitoring", "post_market_monitoring_plan", "monitoring_plan"),
        r"post[- ]market|monitoring plan",
    ),
    "changelog": (("changelog", "changes", "release_notes"), r"change ?log|release notes|changes"),
}


def _norm(key: str) -> str:
    return re.sub(r"[\s\-]+", "_", key.strip().lower())


def text_of(value: Any) -> str | None:
    """A card value as display text, or None when it says nothing."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, list | tuple):
        parts = [t for t in (text_of(v) for v in value) if t]
        text = "; ".join(parts)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        if text in ("{}", "null"):
            return None
    else:
        text = str(value)
    if not _PLACEHOLDER.sub("", text).strip():
        return None
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _keyed(card: Mapping[str, Any]) -> dict[str, Any]:
    out = {_norm(str(k)): v for k, v in card.items() if k not in ("metadata", "sections")}
    meta = card.get("metadata")
    if isinstance(meta, Mapping):
        for k, v in meta.items():
            out.setdefault(_norm(str(k)), v)
    return out


def card_value(card: Mapping[str, Any] | None, name: str) -> str | None:
    """What the card states for `name` (a documentation field or one of EXTRA_FIELDS), or None."""
    if not card:
        return None
    if name in REQUIRED_FIELDS:
        for value in card_fields(card)[name]:
            text = text_of(value)
            if text:
                return text
        return None
    keys, heading = EXTRA_FIELDS[name]
    keyed = _keyed(card)
    for key in keys:
        text = text_of(keyed.get(key))
        if text:
            return text
    sections = card.get("sections")
    if isinstance(sections, Mapping):
        pattern = re.compile(heading, re.I)
        for title, body in sections.items():
            if pattern.search(str(title).strip()):
                text = text_of(body)
                if text:
                    return text
    return None
