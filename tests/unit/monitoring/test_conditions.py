from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.core.errors import InvalidInput
from charter.monitoring import Condition, check, evaluate, parse_condition, persistence, strongest
from charter.monitoring.conditions import OPS, ConditionResult


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("drift.psi_max < 0.25 => suspend", Condition("drift.psi_max", "<", 0.25, "suspend")),
        (
            "fairness.dp_diff[gender] < 0.1 => revoke after 3 windows",
            Condition("fairness.dp_diff[gender]", "<", 0.1, "revoke", 3),
        ),
        ("perf.accuracy>=0.8=>suspend", Condition("perf.accuracy", ">=", 0.8, "suspend")),
        (
            "  drift.ks[age group] <= 1e-1 =>  revoke after 1 window  ",
            Condition("drift.ks[age group]", "<=", 0.1, "revoke"),
        ),
        ('drift.psi["a]b"] != -2 => suspend', Condition("drift.psi[a]b]", "!=", -2.0, "suspend")),
        ("window.rows == 1000 => suspend after 12 windows", Condition("window.rows", "==", 1000.0, "suspend", 12)),
        ("x > .5 => suspend", Condition("x", ">", 0.5, "suspend")),
    ],
)
def test_parses_valid_conditions(text: str, want: Condition) -> None:
    got = parse_condition(text)
    assert got == want
    assert parse_condition(str(got)) == got
    assert Condition.from_dict(got.to_dict()) == got


@pytest.mark.parametrize(
    "text",
    [
        "",
        "drift.psi_max 0.25 => suspend",
        "drift.psi_max <> 0.25 => suspend",
        "drift.psi_max < abc => suspend",
        "drift.psi_max < 0.25 suspend",
        "drift.psi_max < 0.25 => pause",
        "drift.psi_max < 0.25 => suspend later",
        "drift.psi_max < 0.25 => suspend after windows",
        "drift.psi_max < 0.25 => suspend after 0 windows",
        "drift.psi_max < 0.25 => suspend after 10001 windows",
        "drift.psi_max < 0.25 => suspend after 3 days",
        "drift.psi_max < 0.25 => suspend after 3 windows now",
        "drift.psi[age < 0.25 => suspend",
        "drift.psi[] < 0.25 => suspend",
        'drift.psi["age] < 0.25 => suspend',
        'drift.psi[""] < 0.25 => suspend',
        "drift..psi < 1 => suspend",
        "drift. psi < 1 => suspend",
        "drift.psi_max < 1e999 => suspend",
    ],
)
def test_malformed_conditions_are_refused_by_the_one_parser(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_condition(text)
    assert err.value.code == "invalid_condition"
    assert err.value.field == "conditions"
    assert "expected 'METRIC OP VALUE" in err.value.message


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_parser_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        parse_condition(text)
    except InvalidInput as exc:
        assert exc.code == "invalid_condition"


_TOKENS = st.sampled_from(
    [
        "drift.psi_max",
        "fairness.dp_diff[",
        "gender",
        "]",
        " ",
        "<",
        "<=",
        ">",
        "==",
        "!=",
        "0.1",
        "-3e2",
        "=>",
        "suspend",
        "revoke",
        "after",
        "3",
        "windows",
        '"',
        ".",
        "[",
        "\t",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_TOKENS, max_size=14).map("".join))
def test_parser_never_crashes_on_near_miss_text(text: str) -> None:
    try:
        cond = parse_condition(text)
    except InvalidInput as exc:
        assert exc.code == "invalid_condition"
    else:
        assert parse_condition(str(cond)) == cond


# The grammar is printable ASCII (a column with other characters is written as a JSON string with \\u escapes).
_KEYS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["drift.psi", "fairness.dp_diff", "perf.f1"]),
    st.none() | _KEYS,
    st.sampled_from(sorted(OPS)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["suspend", "revoke"]),
    st.integers(1, 10_000),
)
def test_rendered_conditions_round_trip(
    name: str, key: str | None, op: str, threshold: float, action: str, windows: int
) -> None:
    metric = name if key is None else f"{name}[{key}]"
    cond = Condition(metric, op, threshold, action, windows)  # type: ignore[arg-type]
    assert parse_condition(str(cond)) == cond


@pytest.mark.parametrize(
    ("op", "value", "status"),
    [
        ("<", 0.2, "holds"),
        ("<", 0.25, "breached"),
        ("<=", 0.25, "holds"),
        (">", 0.25, "breached"),
        (">=", 0.25, "holds"),
        ("==", 0.25, "holds"),
        ("!=", 0.25, "breached"),
    ],
)
def test_evaluate_reports_holds_or_breached(op: str, value: float, status: str) -> None:
    cond = Condition("drift.psi_max", op, 0.25, "suspend")  # type: ignore[arg-type]
    result = evaluate(cond, {"drift.psi_max": value})
    assert result.status == status and result.observed == value and result.threshold == 0.25


@pytest.mark.parametrize("metrics", [{}, {"drift.psi_max": None}, {"drift.psi_max": math.nan}])
def test_missing_metric_is_no_data(metrics: dict[str, float | None]) -> None:
    result = evaluate(parse_condition("drift.psi_max < 0.25 => suspend"), metrics)
    assert result.status == "no_data" and result.observed is None
    assert result.to_dict()["status"] == "no_data"


def test_first_breach_acts_without_persistence() -> None:
    cond = parse_condition("drift.psi_max < 0.25 => suspend")
    decision = check(cond, [{"drift.psi_max": 0.1}, {"drift.psi_max": 0.3}])
    assert decision.action == "suspend" and decision.consecutive == 1


def test_persistence_needs_consecutive_breaches() -> None:
    cond = parse_condition("fairness.dp_diff[gender] < 0.1 => revoke after 3 windows")

    def run(*values: float | None) -> str | None:
        return check(cond, [{"fairness.dp_diff[gender]": v} for v in values]).action

    assert run(0.2, 0.2) is None
    assert run(0.2, 0.2, 0.2) == "revoke"
    assert run(0.2, 0.05, 0.2, 0.2) is None  # a holding window resets the run
    assert run(0.2, None, 0.2, None, 0.2) == "revoke"  # windows without data neither count nor reset
    assert run(0.2, 0.2, 0.2, None) is None  # nothing new to act on
    assert run() is None


def test_persistence_reports_progress() -> None:
    cond = parse_condition("perf.accuracy >= 0.8 => suspend after 2 windows")
    results = [evaluate(cond, {"perf.accuracy": 0.7})]
    d = persistence(cond, results)
    assert d.action is None and d.consecutive == 1 and d.to_dict()["required"] == 2
    assert isinstance(d.latest, ConditionResult)


def test_from_dict_validates_fields_without_text() -> None:
    cond = Condition.from_dict({"metric": "perf.f1", "op": ">=", "threshold": 0.7, "action": "revoke", "windows": 2})
    assert cond == Condition("perf.f1", ">=", 0.7, "revoke", 2)
    with pytest.raises(InvalidInput):
        Condition.from_dict({"metric": "perf.f1", "op": "=~", "threshold": 0.7, "action": "revoke", "windows": 2})
    with pytest.raises(InvalidInput):
        Condition.from_dict({"metric": "perf.f1", "op": ">", "threshold": 0.7, "action": "delete", "windows": 1})
    with pytest.raises(InvalidInput):
        Condition.from_dict({"metric": "perf.f1"})


def test_strongest_action() -> None:
    s = parse_condition("a < 1 => suspend")
    r = parse_condition("b < 1 => revoke")
    decisions = [check(s, [{"a": 2}]), check(r, [{"b": 2}])]
    assert strongest(decisions) == "revoke"
    assert strongest(decisions[:1]) == "suspend"
    assert strongest([check(r, [{"b": 0}])]) is None
