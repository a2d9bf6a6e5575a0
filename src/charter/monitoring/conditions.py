"""License conditions over window metrics: `METRIC OP VALUE => suspend|revoke [after N windows]`.

A condition states what must HOLD (`drift.psi_max < 0.25 => suspend`); a window breaches it when the observed value
does not satisfy it, and has no data when the metric is absent or `None` (too few rows, no labels). The action fires
on the first breaching window unless the condition asks for persistence (`after 3 windows`): then the newest window
must breach and, going back, breaches must reach N before a window where the condition holds (windows without data
neither count nor interrupt).

The grammar (`METRIC OP VALUE => suspend|revoke [after N windows]`) and its one parser are in
`charter.licenses.conditions`, which validates conditions when a license is requested; this module turns a parsed
condition into a `Condition` and evaluates it over windows.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from charter.core.errors import ErrorCode, InvalidInput
from charter.licenses import conditions as license_conditions

Op = Literal["<", "<=", ">", ">=", "==", "!="]
Action = Literal["suspend", "revoke"]
Status = Literal["holds", "breached", "no_data"]
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
ACTIONS: tuple[Action, ...] = ("suspend", "revoke")
MAX_WINDOWS = 10_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[^\[\]\"\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Condition:
    metric: str  # stable metric id, e.g. "fairness.dp_diff[gender]"
    op: Op
    threshold: float
    action: Action
    windows: int = 1  # consecutive breaching windows needed before acting

    def __post_init__(self) -> None:
        ok = (
            self.op in OPS
            and self.action in ACTIONS
            and math.isfinite(self.threshold)
            and 1 <= self.windows <= MAX_WINDOWS
            and _NAME.match(self.metric) is not None
        )
        if not ok:
            raise InvalidInput(
                f"invalid condition fields: {self!r}", code=ErrorCode.INVALID_CONDITION, field="conditions"
            )

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        name, _, key = self.metric.partition("[")
        metric = name
        if key:
            key = key[:-1]
            metric += f"[{key}]" if _BARE_KEY.fullmatch(key) else f"[{json.dumps(key)}]"
        text = f"{metric} {self.op} {self.threshold!r} => {self.action}"
        return text + (f" after {self.windows} windows" if self.windows > 1 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "action": self.action,
            "windows": self.windows,
            "text": str(self),
        }

    @classmethod
    def from_license(cls, parsed: Mapping[str, Any]) -> Condition:
        """From the licenses' stored form `{metric, op, value, action, after}`."""
        return cls(parsed["metric"], parsed["op"], float(parsed["value"]), parsed["action"], int(parsed["after"]))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Condition:
        """Rebuild from `to_dict` output; always re-parsed, so a hand-edited dict is validated like text."""
        if "text" in d:
            return parse_condition(str(d["text"]))
        try:
            return parse_condition(
                str(cls(d["metric"], d["op"], float(d["threshold"]), d["action"], int(d["windows"])))
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"condition {dict(d)!r} is malformed: {exc!r}", code=ErrorCode.INVALID_CONDITION
            ) from exc


def parse_condition(text: str) -> Condition:
    """Parse one condition with the licenses' parser; InvalidInput (code `invalid_condition`) on any error."""
    return Condition.from_license(license_conditions.parse_condition(text))


@dataclass(frozen=True)
class ConditionResult:
    condition: Condition
    status: Status
    observed: float | None

    @property
    def threshold(self) -> float:
        return self.condition.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": str(self.condition),
            "metric": self.condition.metric,
            "status": self.status,
            "observed": self.observed,
            "threshold": self.threshold,
        }


def evaluate(condition: Condition, metrics: Mapping[str, float | None]) -> ConditionResult:
    """Check one condition against one window's flat metric values."""
    value = metrics.get(condition.metric)
    if value is None or not math.isfinite(value):
        return ConditionResult(condition, "no_data", None)
    status: Status = "holds" if condition.holds(float(value)) else "breached"
    return ConditionResult(condition, status, float(value))


@dataclass(frozen=True)
class Decision:
    condition: Condition
    action: Action | None  # set when this window triggers the condition's action
    consecutive: int  # breaching windows in the current run (windows without data skipped)
    latest: ConditionResult | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": str(self.condition),
            "action": self.action,
            "consecutive": self.consecutive,
            "required": self.condition.windows,
            "latest": None if self.latest is None else self.latest.to_dict(),
        }


def persistence(condition: Condition, results: Sequence[ConditionResult]) -> Decision:
    """Decide on the newest of `results` (oldest first): act when it breaches and the run reaches N windows."""
    run = 0
    for r in reversed(results):
        if r.status == "holds":
            break
        run += r.status == "breached"
    latest = results[-1] if results else None
    fire = latest is not None and latest.status == "breached" and run >= condition.windows
    return Decision(condition, condition.action if fire else None, run, latest)


def check(condition: Condition, windows: Sequence[Mapping[str, float | None]]) -> Decision:
    """`persistence` over recent windows' metric values (oldest first); pass at least N windows."""
    return persistence(condition, [evaluate(condition, m) for m in windows])


def strongest(decisions: Iterable[Decision]) -> Action | None:
    """The action to take for one window: revoke beats suspend."""
    actions = {d.action for d in decisions}
    return "revoke" if "revoke" in actions else "suspend" if "suspend" in actions else None
