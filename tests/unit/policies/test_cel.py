"""CEL: compile once and cache by digest, static checks with positions, deny-by-default evaluation."""

from __future__ import annotations

import pytest

from charter.policies import cel
from charter.policies.evidence import fill_defaults


def test_compiled_expressions_are_cached_by_digest() -> None:
    first = cel.compile_expression("system.risk_tier == 'high'")
    second = cel.compile_expression("system.risk_tier == 'high'")
    assert first is second
    assert first.digest == cel.digest_of("system.risk_tier == 'high'")
    assert cel.compile_expression("system.risk_tier == 'limited'") is not first


def test_paths_read_by_an_expression() -> None:
    compiled = cel.compile_expression(
        "datasets.all(d, !d.personal_data || d.lawful_basis != null) && fairness['sex'].dp_diff < 0.1"
    )
    assert compiled.paths == {
        "datasets",
        "datasets[].personal_data",
        "datasets[].lawful_basis",
        "fairness",
        "fairness.*",
        "fairness.*.dp_diff",
    }


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("sytem.risk_tier == 'high'", "unknown identifier 'sytem' (did you mean 'system'?)", 1, 1),
        ("system.risk_teir == 'high'", "unknown evidence field 'system.risk_teir' (did you mean 'risk_tier'?)", 1, 8),
        ("datasets.lawful_basis == 'x'", "'datasets' is a list and has no field 'lawful_basis'", 1, 10),
        ("datasets.all(d,\n  d.lawfull_basis != null)", "unknown evidence field 'datasets[].lawfull_basis'", 2, 5),
        ("system.name.lowerAscii() == 'x'", "unknown function 'lowerAscii'", 1, 13),
        ("math.greatest(1, 2) == 2", "unknown function 'math.greatest'", 1, 6),
        ("system.gpai.flag", "'system.gpai' is a bool and has no field 'flag'", 1, 13),
        ("system.risk_tier == 'high' &&", "CEL syntax error: mismatched input '<EOF>'", 1, 30),
        ("system.name == 'x", "CEL syntax error: token recognition error", 1, 16),
        ("", "expression is empty", 1, 1),
    ],
)
def test_invalid_expressions_are_located(source: str, message: str, line: int, column: int) -> None:
    compiled, problems = cel.check(source)
    assert compiled is None
    assert problems[0].message.startswith(message)
    assert (problems[0].line, problems[0].column) == (line, column)


@pytest.mark.parametrize(
    "source",
    [
        "has(system.dpia_reference)",
        "optional.of(1).hasValue()",
        "model.card.intended_use != null",
        "type(system.name) == string",
        "size(model.restricted_purposes) == 0 ? true : false",
        "[1, 2].map(x, x * 2).size() == 2",
        "{'a': system.name}.a == 'x'",
        "scan.findings.exists(f, f.severity == 'critical' && f.global.startsWith('os.'))",
        "fairness.all(a, fairness[a].dp_diff <= thresholds.dp_diff_max)",
        "timestamp('2026-01-01T00:00:00Z').getFullYear() == 2026",
    ],
)
def test_valid_expressions(source: str) -> None:
    compiled, problems = cel.check(source)
    assert problems == []
    assert compiled is not None


def test_expression_length_is_capped() -> None:
    source = "1 + " * 2000 + "1 == 0"
    compiled, problems = cel.check(source)
    assert compiled is None
    assert "longer than" in problems[0].message


def test_compile_expression_raises_with_positions() -> None:
    with pytest.raises(cel.ExpressionError) as err:
        cel.compile_expression("sytem.x")
    assert err.value.code == "cel_invalid"
    assert "1:1" in err.value.message


def test_run_returns_value_or_error_text() -> None:
    context = cel.make_context(fill_defaults({"system": {"risk_tier": "high"}, "performance": None}))
    assert cel.run(cel.compile_expression("system.risk_tier == 'high'"), context) == (True, None)
    value, error = cel.run(cel.compile_expression("performance.accuracy > 0.5"), context)
    assert value is None and error
    value, error = cel.run(cel.compile_expression("size(system.dpia_reference) > 0"), context)
    assert value is None and error


def test_unconvertible_evidence_is_invalid_input() -> None:
    with pytest.raises(Exception) as err:
        cel.make_context({"system": {"x": {1, 2}}})
    assert getattr(err.value, "code", None) == "evidence_invalid"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("hasText(system.name)", True),
        ("hasText(system.owner_team)", False),
        ("hasText(system.human_oversight)", False),
        ("system.name.hasText()", True),
        ("isDigest(model.digest)", True),
        ("isDigest(model.version)", False),
        ("isDigest(model.format)", False),
        ("isDigest('sha256:abc')", False),
    ],
)
def test_charter_functions(source: str, expected: bool) -> None:
    evidence = {
        "system": {"name": "credit", "human_oversight": "  \n "},
        "model": {"digest": "sha256:" + "0123456789abcdef" * 4, "version": "v1", "format": "F" * 64},
    }
    context = cel.make_context(fill_defaults(evidence))
    assert cel.run(cel.compile_expression(source), context) == (expected, None)
