"""License conditions: `METRIC OP VALUE => suspend|revoke [after N windows]`, validated and stored as JSON.

This is the one parser of the grammar: it validates and normalises to `{metric, op, value, action, after}`, and
the monitoring engine (which sits above licenses) evaluates what it parses (`charter.monitoring.conditions`). A
condition that could never fire is refused when it is requested: the metric must be one monitoring computes
(`charter.monitoring.metrics` lists them, and `charter.monitoring.gateway_signals` the `gateway.*` ones counted
from the gateway's audited decisions; tests keep them in step), a bracket key must name a feature (drift)
or sensitive attribute (fairness) of the model's reference profile when one is uploaded, and the text must be
printable ASCII (a column with other characters is written as a JSON string with `\\u` escapes), so a
look-alike or invisible character cannot hide a typo.

Grammar (spaces and tabs allowed between tokens, not inside a metric)::

    condition := metric op number "=>" action [ "after" integer ( "window" | "windows" ) ]
    metric    := name ( "." name )* [ "[" key "]" ]     name := [A-Za-z_][A-Za-z0-9_]*
    key       := characters other than [ ] " and control characters | a JSON string in double quotes
    op        := "<" | "<=" | ">" | ">=" | "==" | "!="
    number    := optionally signed decimal with optional exponent (finite)
    action    := "suspend" | "revoke"

The metric vocabulary (`FEATURE_METRICS`, `ATTRIBUTE_METRICS`, `PLAIN_METRICS` below) is the one registry of what
a condition may name; add a new metric there and in `charter.monitoring.metrics`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from charter.core.canonical import canonical_json
from charter.core.errors import ErrorCode, InvalidInput
from charter.core.hashing import sha256_hex

OPS = ("<=", ">=", "==", "!=", "<", ">")
ACTIONS = ("suspend", "revoke")
MAX_WINDOWS = 10_000
MAX_CONDITIONS = 50
_RE = re.compile(
    r"""^\s*
    (?P<metric>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*
        (?:\[(?:"(?:[^"\\]|\\.)+"|[^\[\]"\x00-\x1f\x7f]+)\])?)
    \s*(?P<op><=|>=|==|!=|<|>)
    \s*(?P<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    \s*=>\s*(?P<action>[A-Za-z_]+)
    (?:\s+after\s+(?P<after>\d{1,6})\s+(?P<unit>[A-Za-z_]+))?
    \s*$""",
    re.VERBOSE,
)
Condition = dict[str, Any]

# The metric ids monitoring computes per window (charter.monitoring.metrics.window_metrics).
FEATURE_METRICS = (
    "drift.psi", "drift.ks", "drift.wasserstein", "drift.js", "drift.chi2", "drift.chi2_p", "drift.missing_rate",
)  # fmt: skip
ATTRIBUTE_METRICS = ("fairness.dp_diff", "fairness.eo_diff")
PLAIN_METRICS = (
    "window.rows", "window.labelled_rows", "drift.psi_max", "drift.ks_max", "drift.wasserstein_max", "drift.js_max",
    "drift.missing_rate_max", "drift.prediction_psi", "drift.prediction_js", "perf.accuracy", "perf.precision",
    "perf.recall", "perf.f1", "fairness.dp_diff", "fairness.eo_diff",
)  # fmt: skip
# Counted from the gateway's audited license decisions per window (charter.monitoring.gateway_signals.METRICS).
GATEWAY_METRICS = ("gateway.calls", "gateway.refusal_rate", "gateway.tool_scope_refusal_rate", "gateway.error_rate")
_PRINTABLE = re.compile(r"[\x20-\x7e\t]*")


@dataclass(frozen=True)
class ProfileColumns:
    """What a bracket key may name: the reference profile's features (drift) and sensitive attributes (fairness)."""

    features: tuple[str, ...]
    attributes: tuple[str, ...]


def _unknown(text: str, what: str, name: str, known: Iterable[str], code: str) -> InvalidInput:
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    listed = ", ".join(names) if names else "none"
    return InvalidInput(
        f"condition {text[:200]!r}: unknown {what} '{name}'{hint} Known {what}s: {listed}",
        code=code,
        field="conditions",
        details={what.replace(" ", "_"): name, "known": names, "did_you_mean": close[0] if close else None},
    )


def check_metric(text: str, metric: str, columns: ProfileColumns | None) -> None:
    """Refuse a metric monitoring never computes, or a bracket key the reference profile does not have."""
    name, bracket, key = metric.partition("[")
    if not bracket:
        if name not in PLAIN_METRICS and name not in GATEWAY_METRICS:
            keyed = [f"{m}[…]" for m in FEATURE_METRICS]
            raise _unknown(text, "metric", name, [*PLAIN_METRICS, *GATEWAY_METRICS, *keyed], ErrorCode.UNKNOWN_METRIC)
        return
    key = key[:-1]
    if name in FEATURE_METRICS:
        if columns is not None and key not in columns.features:
            raise _unknown(text, "feature", key, columns.features, ErrorCode.UNKNOWN_ATTRIBUTE)
    elif name in ATTRIBUTE_METRICS:
        if columns is not None and key not in columns.attributes:
            raise _unknown(text, "sensitive attribute", key, columns.attributes, ErrorCode.UNKNOWN_ATTRIBUTE)
    else:
        raise _unknown(text, "metric", name, [*FEATURE_METRICS, *ATTRIBUTE_METRICS], ErrorCode.UNKNOWN_METRIC)


def _invalid(text: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"condition {text[:200]!r}: {why}; expected 'METRIC OP VALUE => suspend|revoke [after N windows]', "
        "e.g. 'drift.psi_max < 0.25 => suspend'",
        code=ErrorCode.INVALID_CONDITION,
        field="conditions",
    )


def _metric(raw: str, text: str) -> str:
    name, bracket, key = raw.partition("[")
    if not bracket:
        return name
    key = key[:-1]
    if key.startswith('"'):
        try:
            key = json.loads(key)
        except ValueError:
            raise _invalid(text, "the quoted key inside [ ] is not a valid JSON string") from None
    return f"{name}[{key}]"


def parse_condition(text: str) -> Condition:
    """Parse one condition into `{metric, op, value, action, after}`; InvalidInput (invalid_condition) otherwise."""
    if not _PRINTABLE.fullmatch(text):
        bad = next(c for c in text if not _PRINTABLE.fullmatch(c))
        raise _invalid(
            text.encode("ascii", "backslashreplace").decode(),
            f"character U+{ord(bad):04X} is not printable ASCII (write a column with other characters as a JSON "
            'string: ["\\u00e2ge"])',
        )
    m = _RE.match(text)
    if m is None:
        raise _invalid(text, "not understood")
    value = float(m["value"])
    if not math.isfinite(value):
        raise _invalid(text, "the value must be a finite number")
    if m["action"] not in ACTIONS:
        raise _invalid(text, f"action must be suspend or revoke, not '{m['action']}'")
    after = 1
    if m["after"] is not None:
        after = int(m["after"])
        if m["unit"] not in ("window", "windows") or not 1 <= after <= MAX_WINDOWS:
            raise _invalid(text, f"'after N windows' needs 1 ≤ N ≤ {MAX_WINDOWS}")
    return {"metric": _metric(m["metric"], text), "op": m["op"], "value": value, "action": m["action"], "after": after}


def validate(conditions: Iterable[str | Mapping[str, Any]], columns: ProfileColumns | None = None) -> list[Condition]:
    """Parse condition texts (or re-validate stored dicts) into the stored form, in order, and check each metric
    against monitoring's vocabulary and the reference profile's `columns` (keys unchecked when None)."""
    out = []
    for c in conditions:
        text = c if isinstance(c, str) else render(c)
        parsed = parse_condition(text)
        check_metric(text, parsed["metric"], columns)
        out.append(parsed)
    if len(out) > MAX_CONDITIONS:
        raise InvalidInput(f"at most {MAX_CONDITIONS} conditions per license", code=ErrorCode.INVALID_CONDITION)
    return out


def render(condition: Mapping[str, Any]) -> str:
    """The text form of a stored condition (parses back to the same dict)."""
    try:
        name, _, key = str(condition["metric"]).partition("[")
        metric = f"{name}[{json.dumps(key[:-1])}]" if key else name
        text = f"{metric} {condition['op']} {float(condition['value'])!r} => {condition['action']}"
        after = int(condition.get("after", 1))
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            "a condition object needs metric, op, value, action (and optional after)", code=ErrorCode.INVALID_CONDITION
        ) from None
    return text + (f" after {after} windows" if after != 1 else "")


def conditions_digest(conditions: list[Condition]) -> str:
    """`sha256:<hex>` of the canonical JSON (RFC 8785) of the conditions list: bound into the license token."""
    return "sha256:" + sha256_hex(canonical_json(conditions))
