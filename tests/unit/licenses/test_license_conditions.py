"""License conditions: parsed to {metric, op, value, action, after}; texts monitoring accepts are accepted here."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.core.errors import InvalidInput
from charter.licenses import conditions as cond
from charter.monitoring.conditions import parse_condition as monitoring_parse


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
    m = monitoring_parse(text)
    assert (m.metric, m.op, m.threshold, m.action, m.windows) == tuple(expected.values())


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
