"""The evidence document that policies read: declared fields, defaults, path checks.

Agreed with the evaluation engine: exactly these top-level keys. Rules may only reference declared fields;
`fill_defaults` makes every declared field present (null, false, [] or {}) so `has()` and null checks behave.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from charter.core.thresholds import DEFAULT_THRESHOLDS
from charter.policies._fields import (
    ANY,
    OPEN_MAP,
    STRING_KEY,
    Field,
    Kind,
    flag,
    join_path,
    list_of,
    number,
    obj,
    split_path,
    string,
)
from charter.policies._yaml import did_you_mean

__all__ = [
    "ANY",
    "DECLARED_PATHS",
    "DEFAULT_THRESHOLDS",
    "OPEN_MAP",
    "SCHEMA",
    "STRING_KEY",
    "TOP_LEVEL",
    "Field",
    "Kind",
    "check_path",
    "fill_defaults",
    "missing",
    "split_path",
    "type_problems",
]


RISK_TIERS = ("prohibited", "high", "limited", "minimal")
LAWFUL_BASES = ("consent", "contract", "legal-obligation", "vital-interests", "public-task", "legitimate-interests")
DATASET_ROLES = ("training", "validation", "test", "reference")

_GENAI_ITEM = obj(
    {
        "attempts": Field(Kind.INT, nullable=True, doc="prompts or samples evaluated"),
        "failures": Field(Kind.INT, nullable=True, doc="successful attacks, harmful outputs or wrong answers"),
        "rate": number("failures / attempts"),
        "category": string("attack, toxicity, leakage, refusal, task or other"),
        "family": string("probe family or task group"),
        "accuracy": number("a task's accuracy"),
    }
)
_GENAI_TOOL = Field(Kind.MAP, item=_GENAI_ITEM, doc="per probe or task")

_FAIRNESS_ATTR = obj(
    {
        "dp_diff": number("demographic parity difference (max - min selection rate)"),
        "dp_ratio": number("demographic parity ratio (min / max selection rate)"),
        "eo_diff": number("equalized odds difference"),
        "disparate_impact": number("disparate impact ratio"),
        "four_fifths_pass": Field(Kind.BOOL, nullable=True, doc="disparate impact >= 0.8"),
        "groups": OPEN_MAP,
    }
)

SCHEMA: Field = obj(
    {
        "system": obj(
            {
                "name": string(),
                "risk_tier": string("EU AI Act risk tier", RISK_TIERS),
                "annex_iii_area": string("Annex III area, e.g. '4(a)'"),
                "gpai": flag("general-purpose AI model"),
                "gpai_systemic": flag("general-purpose AI model with systemic risk (Art. 51)"),
                "generative": flag("generative AI system (questionnaire: generative, or generates synthetic content)"),
                "personal_data": flag("processes personal data"),
                "special_category_data": flag("processes GDPR Art. 9 data"),
                "human_oversight": string("how humans oversee the system"),
                "dpia_reference": string("reference of the data protection impact assessment"),
                "log_retention_days": Field(Kind.INT, nullable=True, doc="days automatic logs are kept"),
                "owner_team": string(),
                "access_restricted": flag("artifact and endpoint access restricted to named principals"),
            }
        ),
        "model": obj(
            {
                "digest": string("sha256 of the artifact"),
                "version": string(),
                "framework": string(),
                "format": string(),
                "digest_pinned": flag("deployments reference the artifact by digest"),
                "license": string("SPDX license of the model"),
                "restricted_purposes": list_of(Field(Kind.STRING)),
                "card": OPEN_MAP,
                "signature": obj(
                    {
                        "verified": flag("an OpenSSF model-signing signature over the files was verified"),
                        "signer": string("sha256 of the signer's public key"),
                        "method": string("how it was signed (key)"),
                    }
                ),
            }
        ),
        "datasets": list_of(
            obj(
                {
                    "name": string(),
                    "digest": string(),
                    "license": string("SPDX license"),
                    "lawful_basis": string("GDPR Art. 6 basis", LAWFUL_BASES),
                    "personal_data": flag(),
                    "special_category": flag(),
                    "role": string("lineage role", DATASET_ROLES),
                }
            )
        ),
        "provenance": obj({"complete": flag("lineage complete for every input"), "issues": list_of(ANY)}),
        "performance": obj(
            {
                "accuracy": number(),
                "precision": number(),
                "recall": number(),
                "f1": number(),
                "roc_auc": number(),
                "calibration_error": number(),
                "n": Field(Kind.INT, nullable=True, doc="rows evaluated"),
                "ci": OPEN_MAP,
            },
            nullable=True,
        ),
        "fairness": Field(Kind.MAP, item=_FAIRNESS_ATTR, doc="per sensitive attribute"),
        "fairness_summary": obj(
            {
                "evaluated": flag(),
                "attributes": list_of(Field(Kind.STRING)),
                "dp_diff_max": number(),
                "eo_diff_max": number(),
                "disparate_impact_min": number(),
            }
        ),
        "scan": obj(
            {
                "performed": flag(),
                "safe": flag(),
                "formats": list_of(Field(Kind.STRING)),
                "findings": list_of(
                    obj(
                        {
                            "file": string("file inside the artifact"),
                            "format": string("pickle, safetensors, onnx, ..."),
                            "severity": string("scanner severity", ("critical", "warning", "info")),
                            "global": string("pickle import involved, e.g. os.system"),
                            "detail": string(),
                        }
                    )
                ),
            }
        ),
        "genai": obj(
            {
                "evaluated": flag("a GenAI tool report (garak, Inspect, promptfoo, lm-eval) was given"),
                "red_teamed": flag("a red-teaming report (attack, toxicity, leakage or refusal probes) was given"),
                "attack_success_rate": number("jailbreak / prompt-injection attacks that succeeded (pooled)"),
                "toxicity_rate": number("toxic or harmful generations (pooled)"),
                "leakage_rate": number("training-data, secret, system-prompt or personal-data leaks (pooled)"),
                "refusal_rate": number("harmful requests refused (pooled)"),
                "task_accuracy": Field(Kind.MAP, item=number(), doc="accuracy per benchmark task"),
                "garak": _GENAI_TOOL,
                "inspect": _GENAI_TOOL,
                "promptfoo": _GENAI_TOOL,
                "lm_eval": _GENAI_TOOL,
                "sources": list_of(
                    obj(
                        {
                            "tool": string(),
                            "version": string("the tool's version"),
                            "model": string("the target model the tool evaluated"),
                            "file": string(),
                            "sha256": string("sha256 of the tool's output file"),
                            "size": Field(Kind.INT, nullable=True),
                            "items": Field(Kind.INT, nullable=True),
                        }
                    )
                ),
            }
        ),
        "documentation": obj(
            {
                "completeness": number("share of required documentation sections present (0..1)"),
                "present": list_of(Field(Kind.STRING)),
                "missing": list_of(Field(Kind.STRING)),
            }
        ),
        "evaluation": obj(
            {
                "computed_by": string(
                    "who computed performance and fairness: server (from uploaded predictions) or client "
                    "(self-reported)",
                    ("server", "client"),
                ),
                "self_reported": flag("the figures were computed on the client and never checked by the server"),
                "code_version": string("Charter version that computed the figures"),
                "inputs": Field(Kind.MAP, item=string("sha256 of the input file"), doc="sha256 of each input"),
            },
            doc="who computed the evaluation evidence (set by the server)",
        ),
        "thresholds": obj(
            {name: Field(Kind.FLOAT, default=value) for name, value in DEFAULT_THRESHOLDS.items()},
            doc="policy parameters",
        ),
    }
)

TOP_LEVEL: tuple[str, ...] = tuple(SCHEMA.fields)


def _paths(spec: Field, prefix: str, out: set[str]) -> None:
    if spec.kind == Kind.OBJECT:
        for name, child in spec.fields.items():
            path = f"{prefix}.{name}" if prefix else name
            out.add(path)
            _paths(child, path, out)
    elif spec.kind == Kind.LIST and spec.item is not None:
        out.add(f"{prefix}[]")
        _paths(spec.item, f"{prefix}[]", out)
    elif spec.kind == Kind.MAP and spec.item is not None:
        out.add(f"{prefix}.*")
        _paths(spec.item, f"{prefix}.*", out)


def _all_paths() -> frozenset[str]:
    out: set[str] = set()
    _paths(SCHEMA, "", out)
    return frozenset(out)


DECLARED_PATHS: frozenset[str] = _all_paths()


def check_path(path: str) -> str | None:
    """None when `path` names a declared evidence field (map keys may be `*` or a concrete key), else why not."""
    parts = split_path(path)
    if not parts:
        return f"'{path}' is not an evidence path (use dotted names, [] for list items, e.g. datasets[].lawful_basis)"
    spec: Field | None = SCHEMA
    walked: list[str] = []
    for part in parts:
        assert spec is not None
        if part == "[]":
            nxt = spec.item if spec.kind == Kind.LIST else (ANY if spec.kind == Kind.ANY else None)
        elif part == "*":
            nxt = spec.item if spec.kind == Kind.MAP else (ANY if spec.kind == Kind.ANY else None)
        else:
            nxt = spec.child(part)
        if nxt is None:
            where = join_path(walked) or "the evidence document"
            return f"unknown evidence field '{path}': {where} has no '{part}'"
        walked.append(part)
        spec = nxt
    return None


def missing(evidence: Mapping[str, Any], path: str) -> list[str]:
    """Concrete paths under `path` that are absent or null (e.g. `datasets[1].lawful_basis`); [] when present."""
    parts = split_path(path) or [path]
    out: list[str] = []
    _walk(evidence, parts, "", out)
    return out


def _walk(value: Any, parts: list[str], here: str, out: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if not isinstance(value, list):
            out.append(join_path([here, *parts]))
            return
        for i, item in enumerate(value):
            _step(item, rest, f"{here}[{i}]", out)
        return
    if not isinstance(value, Mapping):
        out.append(join_path([here, *parts]) if here else join_path(parts))
        return
    if head == "*":
        for key in sorted(value, key=str):
            _step(value[key], rest, f"{here}.{key}", out)
        return
    _step(value.get(head), rest, f"{here}.{head}" if here else head, out)


def _step(value: Any, rest: list[str], here: str, out: list[str]) -> None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        out.append(join_path([here, *rest]))
    else:
        _walk(value, rest, here, out)


def fill_defaults(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """A new evidence dict where every declared field exists: null / false / [] / {} / default thresholds.

    Ints in float fields become floats and NaN becomes null, so CEL arithmetic and comparisons are well-typed;
    `lawful_basis` spellings with underscores are normalised to the hyphenated form. Undeclared keys are kept.
    """
    filled = _fill(SCHEMA, evidence if evidence is not None else {})
    assert isinstance(filled, dict)
    return filled


def _default(spec: Field) -> Any:
    if spec.kind == Kind.OBJECT and not spec.nullable:
        return _fill(spec, {})
    if spec.kind == Kind.LIST:
        return []
    if spec.kind == Kind.MAP:
        return {}
    return spec.default


def _fill(spec: Field, value: Any) -> Any:
    if value is None:
        return None if spec.nullable or spec.kind not in (Kind.OBJECT, Kind.LIST, Kind.MAP) else _default(spec)
    if spec.kind == Kind.OBJECT and isinstance(value, Mapping):
        out = {str(k): _plain(v) for k, v in value.items()}
        for name, child in spec.fields.items():
            out[name] = _fill(child, value[name]) if name in value else _default(child)
        return out
    if spec.kind == Kind.LIST and isinstance(value, list | tuple) and spec.item is not None:
        return [_fill(spec.item, v) for v in value]
    if spec.kind == Kind.MAP and isinstance(value, Mapping) and spec.item is not None:
        return {str(k): _fill(spec.item, v) for k, v in value.items()}
    if spec.kind == Kind.FLOAT and isinstance(value, int | float) and not isinstance(value, bool):
        return None if math.isnan(value) else float(value)
    if spec.kind == Kind.STRING and spec.choices == LAWFUL_BASES and isinstance(value, str):
        return value.replace("_", "-")
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def type_problems(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(path, message) for every undeclared key, wrong type or value outside its choices."""
    out: list[tuple[str, str]] = []
    _check(SCHEMA, evidence, "", out)
    return out


_PY_TYPES: Mapping[Kind, tuple[type, ...]] = {
    Kind.STRING: (str,),
    Kind.INT: (int,),
    Kind.FLOAT: (int, float),
    Kind.BOOL: (bool,),
    Kind.OBJECT: (Mapping,),
    Kind.LIST: (list, tuple),
    Kind.MAP: (Mapping,),
}


def _check(spec: Field, raw: object, here: str, out: list[tuple[str, str]]) -> None:
    value: Any = raw
    if spec.kind == Kind.ANY:
        return
    label = here or "evidence"
    if value is None:
        if not spec.nullable and spec.kind not in (Kind.OBJECT, Kind.LIST, Kind.MAP):
            out.append((label, f"{label} must be a {spec.kind.value}, not null"))
        return
    kinds = _PY_TYPES[spec.kind]
    if not isinstance(value, kinds) or (isinstance(value, bool) and spec.kind in (Kind.INT, Kind.FLOAT)):
        out.append((label, f"{label} must be a {spec.kind.value}, got {type(value).__name__}"))
        return
    data: Any = raw
    if spec.kind == Kind.STRING and spec.choices and data not in spec.choices:
        if not (spec.choices == LAWFUL_BASES and data.replace("_", "-") in spec.choices):
            out.append((label, f"{label} '{data}' is not one of {', '.join(spec.choices)}"))
    if spec.kind == Kind.OBJECT:
        for key, child in data.items():
            path = f"{here}.{key}" if here else str(key)
            sub = spec.fields.get(str(key))
            if sub is None:
                out.append((path, f"unknown evidence field '{path}'{did_you_mean(str(key), spec.fields)}"))
            else:
                _check(sub, child, path, out)
    elif spec.kind == Kind.LIST and spec.item is not None:
        for i, child in enumerate(data):
            _check(spec.item, child, f"{here}[{i}]", out)
    elif spec.kind == Kind.MAP and spec.item is not None:
        for key, child in data.items():
            _check(spec.item, child, f"{here}.{key}", out)
