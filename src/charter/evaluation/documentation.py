"""Documentation completeness of a model card against EU AI Act Annex IV / model-card fields.

Accepts a flat dict of fields, or a Hugging Face model card parsed by `parse_model_card` (YAML front matter
under "metadata", markdown sections under "sections"); common HF keys and headings map onto the fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import yaml

from charter.core.errors import InvalidInput

REQUIRED_FIELDS: tuple[str, ...] = (
    "intended_purpose",
    "intended_users",
    "limitations",
    "training_data",
    "evaluation_data",
    "metrics",
    "human_oversight",
    "risk_management",
    "cybersecurity",
    "accuracy_robustness",
    "logging",
    "contact",
    "version",
    "license",
    "out_of_scope_uses",
)

MAX_CARD_CHARS = 2_000_000
_PLACEHOLDERS = re.compile(r"\[more information needed\]|\{\{.*?\}\}|<!--.*?-->|^\s*(todo|tbd|n/?a)\s*$", re.I | re.S)

# Keys (front matter or flat dict), lower-cased with '-' and ' ' as '_', and the fields they document.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "intended_purpose": ("intended_purpose",),
    "intended_use": ("intended_purpose",),
    "intended_uses": ("intended_purpose",),
    "purpose": ("intended_purpose",),
    "intended_users": ("intended_users",),
    "users": ("intended_users",),
    "limitations": ("limitations",),
    "known_limitations": ("limitations",),
    "training_data": ("training_data",),
    "datasets": ("training_data",),
    "evaluation_data": ("evaluation_data",),
    "metrics": ("metrics",),
    "model_index": ("metrics", "evaluation_data"),
    "human_oversight": ("human_oversight",),
    "risk_management": ("risk_management",),
    "risks": ("risk_management",),
    "cybersecurity": ("cybersecurity",),
    "security": ("cybersecurity",),
    "accuracy_robustness": ("accuracy_robustness",),
    "robustness": ("accuracy_robustness",),
    "logging": ("logging",),
    "record_keeping": ("logging",),
    "contact": ("contact",),
    "provider": ("contact",),
    "model_card_contact": ("contact",),
    "developers": ("contact",),
    "developed_by": ("contact",),
    "authors": ("contact",),
    "author": ("contact",),
    "version": ("version",),
    "model_version": ("version",),
    "license": ("license",),
    "license_name": ("license",),
    "out_of_scope_uses": ("out_of_scope_uses",),
    "out_of_scope_use": ("out_of_scope_uses",),
    "out_of_scope": ("out_of_scope_uses",),
}

# Heading keyword rules, first match wins; headings are lower-cased with '&' read as 'and'.
HEADING_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"out[- ]of[- ]scope|misuse", ("out_of_scope_uses",)),
    (r"intended uses? and limitations", ("intended_purpose", "limitations")),
    (r"accuracy.*robustness|robustness", ("accuracy_robustness",)),
    (r"cyber ?security|security", ("cybersecurity",)),
    (r"limitation", ("limitations",)),
    (r"intended users?|primary users|target users|who (is|are|should)", ("intended_users",)),
    (r"intended (use|purpose)|^uses?$|direct use|downstream use|purpose", ("intended_purpose",)),
    (r"training (data|details|procedure)|^dataset", ("training_data",)),
    (r"evaluation data|testing data|test data|validation data", ("evaluation_data",)),
    (r"metric|evaluation results|^results$|^evaluation$|performance", ("metrics",)),
    (r"human oversight|oversight|human[- ]in[- ]the[- ]loop", ("human_oversight",)),
    (r"risk|recommendations", ("risk_management",)),
    (r"logging|record[- ]keeping|\blogs?\b", ("logging",)),
    (r"contact|provider|authors?$|developed by", ("contact",)),
    (r"version|changelog", ("version",)),
    (r"licen[cs]e", ("license",)),
)

# "- **Developed by:** ACME" style lines inside sections.
_BULLET = re.compile(r"^\s*[-*]\s*\*\*(?P<key>[^*:]+):?\*\*:?\s*(?P<value>.+?)\s*$", re.M)


@dataclass(frozen=True)
class DocumentationReport:
    """Completeness ratio with present and missing required fields (in REQUIRED_FIELDS order)."""

    completeness: float
    present: tuple[str, ...]
    missing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Evidence form: {completeness, present, missing}."""
        return {"completeness": self.completeness, "present": list(self.present), "missing": list(self.missing)}


class _PlainLoader(yaml.SafeLoader):
    """Safe loader that keeps dates as strings and refuses aliases, so parsed cards stay small plain JSON."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = cast(Any, self).peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in model card front matter", event.start_mark
            )
        return super().compose_node(parent, index)


_PlainLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def parse_model_card(text: str, *, source: str = "model card") -> dict[str, Any]:
    """Split a model card into {"metadata": YAML front matter dict, "sections": {heading: own text}}."""
    if len(text) > MAX_CARD_CHARS:
        raise InvalidInput(f"{source}: {len(text)} characters exceeds the {MAX_CARD_CHARS}-character limit")
    lines = text.lstrip("\ufeff").splitlines()
    metadata: dict[str, Any] = {}
    body_start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in {"---", "..."}), None)
        if end is None:
            raise InvalidInput(f"{source}:1:1: front matter opened with '---' is never closed; add a '---' line")
        metadata = _load_front_matter("\n".join(lines[1:end]), source)
        body_start = end + 1
    return {"metadata": metadata, "sections": _sections(lines[body_start:])}


def _load_front_matter(block: str, source: str) -> dict[str, Any]:
    try:
        loaded = yaml.load(block, Loader=_PlainLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            # +2: the block starts on the line after the opening '---'; marks are 0-based.
            raise InvalidInput(
                f"{source}:{mark.line + 2}:{mark.column + 1}: invalid YAML front matter: {problem}",
                details={"line": mark.line + 2, "column": mark.column + 1},
            ) from exc
        raise InvalidInput(f"{source}: invalid YAML front matter: {problem}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InvalidInput(f"{source}:2:1: front matter must be a mapping of keys, got {type(loaded).__name__}")
    return {str(k): v for k, v in loaded.items()}


def _sections(lines: list[str]) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            title = heading.group(2).strip()
            current = sections.setdefault(title, [])
            continue
        if current is not None:
            current.append(line)
    return {title: "\n".join(body).strip() for title, body in sections.items()}


def _has_content(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is True
    if isinstance(value, str):
        return bool(_PLACEHOLDERS.sub("", value).strip())
    if isinstance(value, Mapping):
        return any(_has_content(v) for v in value.values())
    if isinstance(value, list | tuple | set):
        return any(_has_content(v) for v in value)
    return True  # numbers and other scalars


def _norm_key(key: str) -> str:
    return re.sub(r"[\s\-]+", "_", key.strip().lower())


def _heading_fields(title: str) -> tuple[str, ...]:
    t = re.sub(r"\s+", " ", title.lower().replace("&", "and")).strip(" :#")
    for pattern, fields in HEADING_RULES:
        if re.search(pattern, t):
            return fields
    return ()


def card_fields(card: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Values found for each required field, from flat keys, front matter, headings and bold bullet lines."""
    found: dict[str, list[Any]] = {f: [] for f in REQUIRED_FIELDS}

    def take_keys(mapping: Mapping[str, Any]) -> None:
        for key, value in mapping.items():
            for f in KEY_ALIASES.get(_norm_key(str(key)), ()):
                found[f].append(value)

    take_keys({k: v for k, v in card.items() if k not in {"metadata", "sections"}})
    metadata = card.get("metadata")
    if isinstance(metadata, Mapping):
        take_keys(metadata)
    sections = card.get("sections")
    if isinstance(sections, Mapping):
        for title, text in sections.items():
            for f in _heading_fields(str(title)):
                found[f].append(text)
            for m in _BULLET.finditer(str(text)):
                for f in KEY_ALIASES.get(_norm_key(m.group("key")), ()):
                    found[f].append(m.group("value"))
    return found


def assess_documentation(card: Mapping[str, Any] | None) -> DocumentationReport:
    """Completeness of a model card dict (flat fields or `parse_model_card` output); None means no card."""
    found = card_fields(card or {})
    present = tuple(f for f in REQUIRED_FIELDS if any(_has_content(v) for v in found[f]))
    missing = tuple(f for f in REQUIRED_FIELDS if f not in present)
    return DocumentationReport(
        completeness=round(len(present) / len(REQUIRED_FIELDS), 6), present=present, missing=missing
    )
