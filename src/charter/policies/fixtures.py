"""Policy tests (`charter policy test DIR`): `*_test.yaml` cases of evidence and expected verdicts per rule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.policies import evidence
from charter.policies._yaml import Checker, YNode, did_you_mean, parse_yaml
from charter.policies.catalogs import ControlCatalog
from charter.policies.document import API_VERSION, PolicyDocument
from charter.policies.engine import RuleResult, Verdict, evaluate
from charter.policies.errors import Location, PolicyError, Problem
from charter.policies.loader import TEST_SUFFIX, check_policy_set, load_policy_dir

FIXTURE_KIND = "PolicyTest"
_TOP = ("apiVersion", "kind", "evidence", "cases")
_CASE = ("name", "description", "evidence", "expect")
_EXPECT = ("verdict", "reason")
VERDICTS = tuple(v.value for v in Verdict)


@dataclass(frozen=True, slots=True)
class Expectation:
    rule_id: str
    verdict: Verdict
    reason: str | None  # substring the actual reason must contain
    location: Location


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    evidence: dict[str, Any]
    expect: tuple[Expectation, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An expectation that did not hold."""

    rule_id: str
    expected: Verdict
    actual: Verdict
    reason: str
    expected_reason: str | None
    location: Location

    def __str__(self) -> str:
        want = self.expected.value + (
            f" with reason containing {self.expected_reason!r}" if self.expected_reason else ""
        )
        return f"{self.location}: {self.rule_id}: expected {want}, got {self.actual.value} ({self.reason})"


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    location: Location
    mismatches: tuple[Mismatch, ...]

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.mismatches


@dataclass(frozen=True, slots=True)
class FixtureReport:
    """Results of all cases of a directory."""

    policies: tuple[str, ...]
    cases: tuple[CaseResult, ...]

    @property
    def passed(self) -> bool:
        """True when every case passed."""
        return all(c.passed for c in self.cases)

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        """The failing cases."""
        return tuple(c for c in self.cases if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "passed": self.passed,
            "policies": list(self.policies),
            "total": len(self.cases),
            "failed": len(self.failures),
            "cases": [
                {
                    "name": c.name,
                    "file": c.location.file,
                    "line": c.location.line,
                    "passed": c.passed,
                    "mismatches": [
                        {
                            "rule_id": m.rule_id,
                            "expected": m.expected.value,
                            "actual": m.actual.value,
                            "reason": m.reason,
                            "line": m.location.line,
                        }
                        for m in c.mismatches
                    ],
                }
                for c in self.cases
            ],
        }

    def format_text(self) -> str:
        """Human summary like `opa test`: each failing case with file:line, then totals."""
        lines: list[str] = []
        for case in self.failures:
            lines.append(f"FAIL {case.location}: {case.name}")
            lines.extend(f"  {m}" for m in case.mismatches)
        passed = len(self.cases) - len(self.failures)
        lines.append(f"{'PASS' if self.passed else 'FAIL'}: {passed}/{len(self.cases)} cases passed")
        return "\n".join(lines)


def fixture_files(directory: Path) -> list[Path]:
    """The `*_test.yaml` files of a directory, sorted."""
    return sorted([*directory.glob(f"*{TEST_SUFFIX}"), *directory.glob("*_test.yml")])


def load_cases(text: str | bytes, *, source: str, rule_ids: Sequence[str]) -> list[Case]:
    """Parse a fixture file; every expected rule id must exist among `rule_ids`."""
    root = parse_yaml(text, source)
    c = Checker(source)
    top = c.mapping(root, "the test file", _TOP, ("cases",))
    cases: list[Case] = []
    if top is not None:
        if "apiVersion" in top and c.string(top["apiVersion"], "apiVersion") not in (None, API_VERSION):
            c.add(top["apiVersion"].loc, f"apiVersion must be '{API_VERSION}'")
        if "kind" in top and c.string(top["kind"], "kind") not in (None, FIXTURE_KIND):
            c.add(top["kind"].loc, f"kind must be '{FIXTURE_KIND}'")
        base = _evidence(c, top["evidence"], "the shared evidence") if "evidence" in top else {}
        items = c.sequence(top["cases"], "cases") if "cases" in top else None
        names: set[str] = set()
        for i, item in enumerate(items or []):
            case = _case(c, item, i, rule_ids, base or {})
            if case is not None and case.name in names:
                c.add(item.loc, f"duplicate case name '{case.name}'")
            elif case is not None:
                names.add(case.name)
                cases.append(case)
    c.raise_if_any()
    return cases


def _evidence(c: Checker, node: YNode, where: str) -> dict[str, Any] | None:
    if node.kind == "scalar" and node.value is None:
        return {}
    if node.kind != "map":
        c.add(node.loc, f"{where} must be a mapping of evidence sections")
        return None
    ev: dict[str, Any] = node.plain()
    for path, message in evidence.type_problems(ev):
        c.add(_locate(node, path), f"{where}: {message}")
    return ev


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of evidence: mappings merge key by key, anything else in `override` replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _case(c: Checker, node: YNode, index: int, rule_ids: Sequence[str], base: dict[str, Any]) -> Case | None:
    fields = c.mapping(node, f"cases[{index}]", _CASE, ("name", "evidence", "expect"))
    if fields is None:
        return None
    name = c.string(fields["name"], f"cases[{index}].name") if "name" in fields else None
    where = f"case '{name}'" if name else f"cases[{index}]"
    if "description" in fields:
        c.string(fields["description"], f"{where}.description")
    ev = _evidence(c, fields["evidence"], f"{where}.evidence") if "evidence" in fields else None
    expects = _expectations(c, fields["expect"], where, rule_ids) if "expect" in fields else []
    if name is None or ev is None or not expects:
        return None
    return Case(name, merge(base, ev), tuple(expects), node.loc)


def _expectations(c: Checker, node: YNode, where: str, rule_ids: Sequence[str]) -> list[Expectation]:
    if node.kind != "map" or not node.value:
        c.add(node.loc, f"{where}.expect must map rule ids to pass, fail or not_applicable")
        return []
    out: list[Expectation] = []
    for rule_id, value in node.value.items():
        loc = node.key_locs[rule_id]
        if rule_id not in rule_ids:
            c.add(loc, f"{where}: unknown rule id '{rule_id}'{did_you_mean(rule_id, rule_ids)}")
            continue
        reason: str | None = None
        verdict_node = value
        if value.kind == "map":
            spec = c.mapping(value, f"{where}.expect.{rule_id}", _EXPECT, ("verdict",))
            if spec is None or "verdict" not in spec:
                continue
            verdict_node = spec["verdict"]
            if "reason" in spec:
                reason = c.string(spec["reason"], f"{where}.expect.{rule_id}.reason")
        verdict = c.choice(verdict_node, f"{where}.expect.{rule_id}", VERDICTS)
        if verdict is not None:
            out.append(Expectation(rule_id, Verdict(verdict), reason, loc))
    return out


_INDEX = re.compile(r"\[(\d+)\]")


def _locate(node: YNode, path: str) -> Location:
    """Best location of an evidence path such as `datasets[1].lawful_basis` inside a fixture."""
    current, loc = node, node.loc
    for part in path.split("."):
        name = _INDEX.split(part)[0]
        indices = [int(i) for i in _INDEX.findall(part)]
        if name:
            if current.kind != "map" or name not in current.value:
                return loc
            loc = current.key_locs[name]
            current = current.value[name]
        for i in indices:
            if current.kind != "seq" or i >= len(current.value):
                return loc
            current = current.value[i]
            loc = current.loc
    return loc


def run_cases(policies: Sequence[PolicyDocument], cases: Sequence[Case]) -> list[CaseResult]:
    """Evaluate each case's evidence and compare the listed rules' verdicts."""
    out: list[CaseResult] = []
    for case in cases:
        assessment = evaluate(policies, case.evidence)
        by_id: dict[str, RuleResult] = {r.rule_id: r for r in assessment.results}
        mismatches = []
        for exp in case.expect:
            actual = by_id[exp.rule_id]
            reason_ok = exp.reason is None or exp.reason in actual.reason
            if actual.verdict != exp.verdict or not reason_ok:
                mismatches.append(
                    Mismatch(exp.rule_id, exp.verdict, actual.verdict, actual.reason, exp.reason, exp.location)
                )
        out.append(CaseResult(case.name, case.location, tuple(mismatches)))
    return out


def run_policy_tests(
    directory: Path,
    *,
    catalog: ControlCatalog | None = None,
    extra_policies: Sequence[PolicyDocument] = (),
) -> FixtureReport:
    """Load the policies and `*_test.yaml` fixtures of `directory` and run every case."""
    problems: list[Problem] = []
    try:
        policies = [*extra_policies, *load_policy_dir(directory, catalog=catalog)]
        check_policy_set(policies)
    except PolicyError as exc:
        raise PolicyError(exc.problems) from None
    rule_ids = sorted({r.id for p in policies for r in p.rules})
    all_cases: list[Case] = []
    for path in fixture_files(directory):
        try:
            all_cases.extend(load_cases(path.read_bytes(), source=str(path), rule_ids=rule_ids))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    results = run_cases(policies, all_cases)
    return FixtureReport(tuple(sorted(p.name for p in policies)), tuple(results))
