"""Evaluate a policy set on an evidence document: per-rule verdicts with reasons, and an overall verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from charter.core.canonical import canonical_json
from charter.core.errors import ErrorCode, InvalidInput
from charter.core.hashing import sha256_hex
from charter.policies import cel, evidence, sandbox
from charter.policies.document import PolicyDocument, Rule, Severity, policy_set_digest
from charter.policies.errors import Location

MAX_SHOWN_VALUES = 4


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The outcome of one rule."""

    rule_id: str
    title: str
    policy: str
    policy_digest: str
    severity: Severity
    verdict: Verdict
    reason: str
    controls: tuple[str, ...]
    remediation: str
    location: Location | None = field(default=None, compare=False)
    duration_ns: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (without timing, so it is deterministic)."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "policy": self.policy,
            "policy_digest": self.policy_digest,
            "severity": self.severity.value,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "controls": list(self.controls),
            "remediation": self.remediation,
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    """Per-rule results of a policy set on one evidence document, and the verdict (fail on any failed blocker)."""

    results: tuple[RuleResult, ...]
    verdict: Verdict
    policy_set_digest: str
    evidence_digest: str
    policies: tuple[tuple[str, str], ...]  # (name, digest), sorted

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        """Failed rules, blockers first."""
        fails = [r for r in self.results if r.verdict == Verdict.FAIL]
        return tuple(sorted(fails, key=lambda r: r.severity.rank))

    @property
    def blockers(self) -> tuple[RuleResult, ...]:
        """Failed blocker rules."""
        return tuple(r for r in self.failed if r.severity == Severity.BLOCKER)

    def counts(self) -> dict[str, int]:
        """Number of results per verdict, and failures per severity."""
        out = {v.value: 0 for v in Verdict}
        out |= {f"fail_{s.value}": 0 for s in Severity}
        for r in self.results:
            out[r.verdict.value] += 1
            if r.verdict == Verdict.FAIL:
                out[f"fail_{r.severity.value}"] += 1
        return out

    def total_eval_ns(self) -> int:
        """CEL time spent on all rules (nanoseconds)."""
        return sum(r.duration_ns for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """Plain, deterministic JSON form."""
        return {
            "verdict": self.verdict.value,
            "policy_set_digest": self.policy_set_digest,
            "evidence_digest": self.evidence_digest,
            "policies": [{"name": n, "digest": d} for n, d in self.policies],
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }


def evidence_digest(filled: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of an evidence document (after defaults are filled)."""
    try:
        return sha256_hex(canonical_json(filled))
    except Exception as exc:  # rfc8785 raises its own types for non-JSON values
        raise InvalidInput(f"evidence is not JSON-compatible: {exc}", code=ErrorCode.EVIDENCE_INVALID) from None


def evaluate(
    policies: Sequence[PolicyDocument], raw_evidence: Mapping[str, Any], *, budget_s: float | None = None
) -> Assessment:
    """Evaluate every rule of `policies` on the evidence (defaults are filled here; missing evidence denies).

    The expressions run in the sandbox's worker process, never in the caller's (`charter.policies.sandbox`): an
    expression that overruns `budget_s` fails its rule and holds up nobody else.
    """
    filled = evidence.fill_defaults(raw_evidence)
    digest = evidence_digest(filled)
    cel.make_context(filled)  # refuse evidence CEL cannot read here, with the caller's error
    ordered = sorted(policies, key=lambda p: (p.name, p.digest))
    rules = [(policy, rule) for policy in ordered for rule in policy.rules]
    sources = [e.source for _, rule in rules for e in (rule.when, rule.check) if e is not None]
    outcomes = iter(sandbox.evaluate(sources, filled, budget_s))
    results: list[RuleResult] = []
    for policy, rule in rules:
        when = next(outcomes) if rule.when is not None else None
        check = next(outcomes)
        results.append(_result(policy, rule, *_decide(rule, raw_evidence, filled, when, check)))
    blocked = any(r.verdict == Verdict.FAIL and r.severity == Severity.BLOCKER for r in results)
    return Assessment(
        results=tuple(results),
        verdict=Verdict.FAIL if blocked else Verdict.PASS,
        policy_set_digest=policy_set_digest(ordered),
        evidence_digest=digest,
        policies=tuple((p.name, p.digest) for p in ordered),
    )


def _result(policy: PolicyDocument, rule: Rule, verdict: Verdict, reason: str, elapsed: int) -> RuleResult:
    return RuleResult(
        rule_id=rule.id,
        title=rule.title,
        policy=policy.name,
        policy_digest=policy.digest,
        severity=rule.severity,
        verdict=verdict,
        reason=reason,
        controls=rule.controls,
        remediation=rule.remediation,
        location=rule.location,
        duration_ns=elapsed,
    )


def _decide(
    rule: Rule,
    raw: Mapping[str, Any],
    filled: Mapping[str, Any],
    when: sandbox.Outcome | None,
    check: sandbox.Outcome,
) -> tuple[Verdict, str, int]:
    """One rule: `when` not exactly true → not_applicable; missing declared evidence or any error → fail."""
    elapsed = check[2] + (when[2] if when is not None else 0)
    if rule.when is not None and when is not None:
        value, error, _ = when
        if error is not None:
            return Verdict.FAIL, f"error evaluating when: {error}", elapsed
        if value is not True:
            return Verdict.NOT_APPLICABLE, f"when is {_show(value)}: {rule.when.source.strip()}", when[2]
    absent = [p for path in rule.evidence for p in evidence.missing(raw, path)]
    if absent:
        return Verdict.FAIL, "missing evidence " + ", ".join(absent), elapsed
    value, error, _ = check
    if error is not None:
        return Verdict.FAIL, f"error evaluating check: {error}", elapsed
    if value is True:
        return Verdict.PASS, "check is true", elapsed
    return Verdict.FAIL, f"check is {_show(value)}{_observed(rule.check, filled)}", elapsed


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "false" if value is False else "true"
    text = repr(value)
    return f"{text[:60]}… (not a boolean)" if len(text) > 60 else f"{text} (not a boolean)"


def _observed(compiled: cel.Compiled, filled: Mapping[str, Any]) -> str:
    """Values of the plain fields an expression read, so a failure explains itself."""
    shown: list[str] = []
    for path in sorted(compiled.paths):
        if "[]" in path or "*" in path or path.count(".") != 1:
            continue
        section, name = path.split(".")
        holder = filled.get(section)
        if not isinstance(holder, Mapping) or name not in holder:
            continue
        value = holder[name]
        if isinstance(value, Mapping | list):
            continue
        shown.append(f"{path}={_scalar(value)}")
        if len(shown) == MAX_SHOWN_VALUES:
            break
    return f" ({', '.join(shown)})" if shown else ""


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value[:40])
    return str(value)
