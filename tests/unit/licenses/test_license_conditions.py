"""License conditions: the one parser of the grammar, to {metric, op, value, action, after}."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.core.errors import InvalidInput
from charter.licenses import conditions as cond


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "drift.psi_max < 0.25 => suspend",
            {"metric": "drift.psi_max", "op": "<", "value": 0.25, "action": "suspend", "after": 1},
        ),
        (
            "fairness.dp_diff<0.1=>revoke after 3 windows",
            {"metric": "fairness.dp_diff", "op": "<", "value": 0.1, "action": "revoke", "after": 3},
        ),
        (
            "fairness.dp_diff[gender] <= 1e-1 => suspend",
            {"metric": "fairness.dp_diff[gender]", "op": "<=", "value": 0.1, "action": "suspend", "after": 1},
        ),
        (
            'drift.psi["age band"] != -2 => suspend after 1 window',
            {"metric": "drift.psi[age band]", "op": "!=", "value": -2.0, "action": "suspend", "after": 1},
        ),
    ],
)
def test_parse(text: str, expected: dict[str, object]) -> None:
    parsed = cond.parse_condition(text)
    assert parsed == expected
    assert cond.parse_condition(cond.render(parsed)) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "drift.psi_max < 0.25",
        "drift.psi_max < 0.25 => kill",
        "drift.psi_max ~ 0.25 => suspend",
        "drift.psi_max < nan => suspend",
        "drift.psi_max < 0.25 => suspend after 0 windows",
        "drift.psi_max < 0.25 => suspend after 3 days",
        "1drift < 0.25 => suspend",
        'x["\\q"] < 1 => suspend',
        "drift.psi_max < 1e999 => suspend",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        cond.parse_condition(text)
    assert err.value.code == "invalid_condition"


def test_digest_is_canonical_and_order_sensitive() -> None:
    a = cond.validate(["drift.psi_max < 0.25 => suspend", "fairness.dp_diff < 0.1 => revoke"])
    b = cond.validate(["drift.psi_max<0.250=>suspend", "fairness.dp_diff < 1e-1 => revoke"])
    assert cond.conditions_digest(a) == cond.conditions_digest(b)
    assert cond.conditions_digest(a) != cond.conditions_digest(a[::-1])
    assert cond.conditions_digest([]).startswith("sha256:")


@given(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8}){0,2}", fullmatch=True),
    st.sampled_from(cond.OPS),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(cond.ACTIONS),
    st.integers(1, cond.MAX_WINDOWS),
)
def test_render_round_trips(metric: str, op: str, value: float, action: str, after: int) -> None:
    c = {"metric": metric, "op": op, "value": float(value), "action": action, "after": after}
    assert cond.parse_condition(cond.render(c)) == c


def test_typo_metric_is_refused_with_a_suggestion() -> None:
    with pytest.raises(InvalidInput) as err:
        cond.validate(["drift.psi_mx < 0.25 => suspend"])
    assert err.value.code == "unknown_metric"
    assert "did you mean 'drift.psi_max'" in err.value.message
    assert err.value.details["did_you_mean"] == "drift.psi_max"
    assert "drift.psi_max" in err.value.details["known"] and "perf.accuracy" in err.value.details["known"]


@pytest.mark.parametrize(
    "text",
    [
        "drift.psi_max\u200b < 0.25 => suspend",  # zero-width space after the name
        "drift.\u0440si_max < 0.25 => suspend",  # Cyrillic er looks like p
        "fairness.dp_diff[gend\u00e9r] < 0.1 => suspend",
        "drift.psi_max < 0.25 => suspend\u00a0",
        "drift.psi_max <\x0b0.25 => suspend",
    ],
)
def test_non_ascii_or_invisible_characters_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        cond.validate([text])
    assert err.value.code == "invalid_condition"
    assert "not printable ASCII" in err.value.message


def test_a_non_ascii_column_is_written_as_an_escaped_json_key() -> None:
    columns = cond.ProfileColumns(features=("âge",), attributes=())
    (parsed,) = cond.validate(['drift.psi["\\u00e2ge"] < 0.25 => suspend'], columns)
    assert parsed["metric"] == "drift.psi[âge]"


def test_bracket_keys_are_checked_against_the_reference_profile() -> None:
    columns = cond.ProfileColumns(features=("age", "income", "region"), attributes=("gender",))
    ok = cond.validate(["drift.psi[income] < 0.25 => suspend", "fairness.dp_diff[gender] < 0.1 => revoke"], columns)
    assert [c["metric"] for c in ok] == ["drift.psi[income]", "fairness.dp_diff[gender]"]
    with pytest.raises(InvalidInput) as err:
        cond.validate(["fairness.dp_diff[gendr] < 0.1 => suspend"], columns)
    assert err.value.code == "unknown_attribute" and err.value.details["did_you_mean"] == "gender"
    assert err.value.details["known"] == ["gender"]
    with pytest.raises(InvalidInput) as err:
        cond.validate(["drift.psi[gender] < 0.1 => suspend"], columns)  # an attribute is not a profiled feature
    assert err.value.code == "unknown_attribute" and "income" in err.value.message
    with pytest.raises(InvalidInput) as err:
        cond.validate(["perf.accuracy[gender] > 0.8 => suspend"], columns)
    assert err.value.code == "unknown_metric"
    # with no profile uploaded yet, keys cannot be checked; the metric name still is
    assert cond.validate(["drift.psi[anything] < 0.25 => suspend"], None)[0]["metric"] == "drift.psi[anything]"
