"""License conditions over window metrics: `METRIC OP VALUE => suspend|revoke [after N windows]`.

A condition states what must HOLD (`drift.psi_max < 0.25 => suspend`); a window breaches it when the observed value
does not satisfy it, and has no data when the metric is absent or `None` (too few rows, no labels). The action fires
on the first breaching window unless the condition asks for persistence (`after 3 windows`): then the newest window
must breach and, going back, breaches must reach N before a window where the condition holds (windows without data
neither count nor interrupt).

Grammar (whitespace allowed between tokens)::

    condition := metric op number "=>" action [ "after" integer ( "window" | "windows" ) ]
    metric    := name ( "." name )* [ "[" key "]" ]     name := [A-Za-z_][A-Za-z0-9_]*
    key       := characters other than [ ] " and control characters | a JSON string in double quotes
    op        := "<" | "<=" | ">" | ">=" | "==" | "!="
    number    := optionally signed decimal with optional exponent (finite)
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from charter.core.errors import InvalidInput

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
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"\d+")
_BARE_KEY = re.compile(r"[^\[\]\"\x00-\x1f\x7f]+")
_WORD = re.compile(r"[A-Za-z_]+")


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
            raise InvalidInput(f"invalid condition fields: {self!r}", code="invalid_condition", field="conditions")

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
    def from_dict(cls, d: Mapping[str, Any]) -> Condition:
        """Rebuild from `to_dict` output; always re-parsed, so a hand-edited dict is validated like text."""
        if "text" in d:
            return parse_condition(str(d["text"]))
        try:
            return parse_condition(
                str(cls(d["metric"], d["op"], float(d["threshold"]), d["action"], int(d["windows"])))
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"condition {dict(d)!r} is malformed: {exc!r}", code="invalid_condition") from exc


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos, self.token = text, 0, 0  # token: start of the last matched token

    def fail(self, expected: str, at: int | None = None) -> InvalidInput:
        pos = self.pos if at is None else at
        found = repr(self.text[pos : pos + 12]) if pos < len(self.text) else "end of text"
        return InvalidInput(
            f"condition {self.text[:200]!r}: expected {expected} at position {pos}, found {found}",
            code="invalid_condition",
            field="conditions",
            details={"position": pos, "expected": expected},
        )

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def match(self, pattern: re.Pattern[str], expected: str) -> str:
        self.ws()
        m = pattern.match(self.text, self.pos)
        if not m:
            raise self.fail(expected)
        self.token, self.pos = self.pos, m.end()
        return m.group()

    def literal(self, options: Iterable[str], expected: str) -> str:
        self.ws()
        for option in options:
            if self.text.startswith(option, self.pos):
                self.pos += len(option)
                return option
        raise self.fail(expected)

    def metric(self) -> str:
        parts = [self.match(_NAME, "a metric name such as drift.psi_max")]
        while self.text.startswith(".", self.pos):
            self.pos += 1
            parts.append(self.match(_NAME, "a name after '.'"))
        name = ".".join(parts)
        if not self.text.startswith("[", self.pos):
            return name
        self.pos += 1
        if self.text.startswith('"', self.pos):
            start = self.pos
            try:
                key, end = json.JSONDecoder().raw_decode(self.text, self.pos)
            except ValueError:
                raise self.fail("a closing '\"' of the quoted key", start) from None
            self.pos = end
        else:
            m = _BARE_KEY.match(self.text, self.pos)
            if not m:
                raise self.fail("a feature or attribute name inside [ ]")
            key, self.pos = m.group(), m.end()
        if not key:
            raise self.fail("a non-empty name inside [ ]")
        if not self.text.startswith("]", self.pos):
            raise self.fail("']'")
        self.pos += 1
        return f"{name}[{key}]"

    def number(self) -> float:
        self.ws()
        start = self.pos
        value = float(self.match(_NUMBER, "a number such as 0.25"))
        if not math.isfinite(value):
            raise self.fail("a finite number", start)
        return value

    def parse(self) -> Condition:
        metric = self.metric()
        op = cast(Op, self.literal(OPS, "one of < <= > >= == !="))
        threshold = self.number()
        self.literal(("=>",), "'=>'")
        action = self.match(_WORD, "'suspend' or 'revoke'")
        if action not in ACTIONS:
            raise self.fail("'suspend' or 'revoke'", self.token)
        windows = 1
        self.ws()
        if self.pos < len(self.text):
            if self.match(_WORD, "'after N windows' or end of condition") != "after":
                raise self.fail("'after N windows' or end of condition", self.token)
            if not self.text[self.pos : self.pos + 1].isspace():
                raise self.fail("a space after 'after'")
            digits = self.match(_INT, "a whole number of windows")
            if len(digits) > 6 or not 1 <= int(digits) <= MAX_WINDOWS:
                raise self.fail(f"a number of windows from 1 to {MAX_WINDOWS}", self.token)
            windows = int(digits)
            if self.match(_WORD, "'windows'") not in ("window", "windows"):
                raise self.fail("'windows'", self.token)
        self.ws()
        if self.pos < len(self.text):
            raise self.fail("end of condition")
        return Condition(metric, op, threshold, action, windows)


def parse_condition(text: str) -> Condition:
    """Parse one condition; InvalidInput (code `invalid_condition`) with `details.position` on any error."""
    return _Parser(text).parse()


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
