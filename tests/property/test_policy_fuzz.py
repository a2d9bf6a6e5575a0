"""The policy loader never crashes: any input gives a document or a PolicyError whose problems are all located."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.policies.document import PolicyDocument
from charter.policies.engine import Verdict, evaluate
from charter.policies.errors import PolicyError
from charter.policies.fixtures import load_cases
from charter.policies.licensing import load_licensing
from charter.policies.loader import builtin_baselines, load_policy

BASELINE = (resources.files("charter.policies") / "builtin" / "baselines" / "regulatory.yaml").read_text()
LICENSING = (resources.files("charter.policies") / "builtin" / "licensing.yaml").read_text()
SMALL = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: fuzz}
rules:
  - id: F-1
    title: t
    severity: major
    when: system.risk_tier == 'high'
    check: datasets.all(d, d.lawful_basis != null) && performance.accuracy >= thresholds.accuracy_min
    evidence: [performance.accuracy]
    controls: [GDPR-ART6, NIST-RMF-MEASURE-2.11]
    remediation: r
"""
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load(text: str | bytes) -> PolicyDocument | None:
    try:
        return load_policy(text, source="fuzz.yaml")
    except PolicyError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.location.file == "fuzz.yaml"
            assert problem.location.line >= 1 and problem.location.column >= 1
            assert problem.message
        return None


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _load(text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _load(data)


_mutation = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "dup_line", "drop_line", "indent"]),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=20),
    st.text(alphabet=st.sampled_from(list(" -:[]{}'\"#&*!|>\n\t.,()=<0123456789abcxyz_")), max_size=12),
)


def _mutate(text: str, ops: list[tuple[str, int, int, str]]) -> str:
    for op, pos, length, chunk in ops:
        pos %= max(1, len(text))
        lines = text.split("\n")
        line = pos % max(1, len(lines))
        if op == "delete":
            text = text[:pos] + text[pos + length :]
        elif op == "insert":
            text = text[:pos] + chunk + text[pos:]
        elif op == "replace":
            text = text[:pos] + chunk + text[pos + len(chunk) :]
        elif op == "dup_line":
            text = "\n".join(lines[: line + 1] + [lines[line]] + lines[line + 1 :])
        elif op == "drop_line":
            text = "\n".join(lines[:line] + lines[line + 1 :])
        else:
            text = "\n".join(lines[:line] + [" " * length + lines[line]] + lines[line + 1 :])
    return text


@FUZZ
@given(st.sampled_from([SMALL, BASELINE]), st.lists(_mutation, min_size=1, max_size=4))
def test_textual_mutations_of_valid_documents(source: str, ops: list[tuple[str, int, int, str]]) -> None:
    _load(_mutate(source, ops))


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@FUZZ
@given(st.sampled_from([SMALL, BASELINE]), st.data())
def test_structural_mutations_of_valid_documents(source: str, data: st.DataObject) -> None:
    doc = yaml.safe_load(source)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        replacement = data.draw(_json)
        if not path:
            doc = replacement
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = replacement
    _load(yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(st.text(max_size=200))
def test_random_cel_in_check(expression: str) -> None:
    _load(SMALL.replace("check: datasets.all", "check: " + yaml.safe_dump(expression).strip() + " #", 1))


@FUZZ
@given(st.lists(_mutation, min_size=1, max_size=4))
def test_licensing_and_fixtures_never_crash(ops: list[tuple[str, int, int, str]]) -> None:
    for loader in (
        lambda t: load_licensing(t, source="fuzz.yaml"),
        lambda t: load_cases(t, source="fuzz.yaml", rule_ids=["F-1"]),
    ):
        try:
            loader(_mutate(LICENSING, ops))
        except PolicyError as exc:
            assert all(p.location.line >= 1 for p in exc.problems)


_evidence = st.dictionaries(
    st.sampled_from(["system", "model", "datasets", "performance", "fairness", "fairness_summary", "scan", "x"]),
    _json,
    max_size=6,
)


@FUZZ
@given(_evidence)
def test_evaluation_of_arbitrary_evidence_never_crashes(evidence: dict[str, Any]) -> None:
    try:
        assessment = evaluate(builtin_baselines(), evidence)
    except Exception as exc:  # only non-JSON numbers are refused, as invalid input
        assert getattr(exc, "code", None) == "evidence_invalid"
        return
    assert all(r.verdict in set(Verdict) for r in assessment.results)
    assert assessment.verdict in (Verdict.PASS, Verdict.FAIL)
