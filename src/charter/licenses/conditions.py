"""License conditions: `METRIC OP VALUE => suspend|revoke [after N windows]`, validated and stored as JSON.

The grammar matches the monitoring engine's (which sits above licenses and evaluates them); this parser only
validates and normalises to `{metric, op, value, action, after}`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from charter.core.canonical import canonical_json
from charter.core.errors import InvalidInput
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


def _invalid(text: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"condition {text[:200]!r}: {why}; expected 'METRIC OP VALUE => suspend|revoke [after N windows]', "
        "e.g. 'drift.psi_max < 0.25 => suspend'",
        code="invalid_condition",
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


def validate(conditions: Iterable[str | Mapping[str, Any]]) -> list[Condition]:
    """Parse condition texts (or re-validate stored dicts) into the stored form, in order."""
    out = [parse_condition(c if isinstance(c, str) else render(c)) for c in conditions]
    if len(out) > MAX_CONDITIONS:
        raise InvalidInput(f"at most {MAX_CONDITIONS} conditions per license", code="invalid_condition")
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
            "a condition object needs metric, op, value, action (and optional after)", code="invalid_condition"
        ) from None
    return text + (f" after {after} windows" if after != 1 else "")


def conditions_digest(conditions: list[Condition]) -> str:
    """`sha256:<hex>` of the canonical JSON (RFC 8785) of the conditions list: bound into the license token."""
    return "sha256:" + sha256_hex(canonical_json(conditions))
