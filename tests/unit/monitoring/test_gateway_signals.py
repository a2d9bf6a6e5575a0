"""The `gateway.*` rates from audited license decisions: what counts, the minimum number of calls, window edges."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.licenses import conditions as license_conditions
from charter.monitoring import gateway_signals as gs
from charter.monitoring.conditions import evaluate, parse_condition


def _d(license_id: str | None = "lic_1", **kw: Any) -> dict[str, Any]:
    return {"decision_id": "dec_1", "license_id": license_id, "status": 200, **kw}


def test_each_decision_counts_once_in_the_right_counters() -> None:
    allow = gs.classify("inference.allow", _d())
    assert allow == gs.Tally(calls=1, forwarded=1)
    assert gs.classify("inference.allow", _d(status=503)) == gs.Tally(calls=1, forwarded=1, errors=1)
    assert gs.classify("inference.allow", _d(status=404)) == gs.Tally(calls=1, forwarded=1)
    error = gs.classify("inference.error", _d(status=502, reason="upstream_unavailable"))
    assert error == gs.Tally(calls=1, forwarded=1, errors=1)
    tool = gs.classify("inference.deny", _d(status=403, reason="tool_not_in_scope"))
    assert tool == gs.Tally(calls=1, refused=1, tool_scope_refused=1)
    cel = gs.classify("inference.deny", _d(status=403, reason="tool_condition_failed"))
    assert cel == gs.Tally(calls=1, refused=1, tool_scope_refused=1)
    assert gs.classify("inference.deny", _d(status=403, reason="purpose_not_in_scope")) == gs.Tally(calls=1, refused=1)
    assert gs.classify("inference.deny", _d(status=429, reason="rate_limited")) == gs.Tally(calls=1, refused=1)
    assert gs.classify("inference.deny", _d(status=403, reason="approval_required")) == gs.Tally(calls=1)


@pytest.mark.parametrize("reason", sorted(gs.LICENSE_STATE_REASONS))
def test_refusals_for_the_license_state_are_not_behaviour(reason: str) -> None:
    """A suspended license refuses every call: counting those would suspend it again as soon as it is reinstated."""
    assert gs.classify("inference.deny", _d(status=403, reason=reason)) is None


def test_entries_without_a_license_or_of_other_actions_do_not_count() -> None:
    assert gs.classify("inference.deny", _d(license_id=None, status=400, reason="path_not_allowed")) is None
    assert gs.classify("gateway.refusals", {"license_id": "lic_1", "counts": {}}) is None
    assert gs.classify("license.suspend", _d()) is None


def test_zero_calls_give_no_rates() -> None:
    v = gs.values(gs.Tally(), min_calls=1)
    assert v == {gs.CALLS: 0.0, gs.REFUSAL_RATE: None, gs.TOOL_SCOPE_REFUSAL_RATE: None, gs.ERROR_RATE: None}


def test_below_the_minimum_number_of_calls_a_rate_has_no_value() -> None:
    one_refusal = gs.Tally(calls=3, refused=1, tool_scope_refused=1, forwarded=2)
    v = gs.values(one_refusal, min_calls=20)
    assert v[gs.CALLS] == 3.0 and v[gs.REFUSAL_RATE] is None and v[gs.TOOL_SCOPE_REFUSAL_RATE] is None
    cond = parse_condition("gateway.refusal_rate < 0.2 => suspend")
    assert evaluate(cond, v).status == "no_data"  # one refusal in three calls does not suspend


def test_at_the_minimum_the_rates_are_computed_each_over_its_own_denominator() -> None:
    t = gs.Tally(calls=20, refused=5, tool_scope_refused=4, forwarded=15, errors=3)
    v = gs.values(t, min_calls=20)
    assert v[gs.REFUSAL_RATE] == 0.25 and v[gs.TOOL_SCOPE_REFUSAL_RATE] == 0.2
    assert v[gs.ERROR_RATE] is None  # 15 forwarded calls < 20
    assert gs.values(t, min_calls=15)[gs.ERROR_RATE] == pytest.approx(0.2)
    assert evaluate(parse_condition("gateway.tool_scope_refusal_rate < 0.1 => suspend"), v).status == "breached"
    assert evaluate(parse_condition("gateway.refusal_rate <= 0.25 => suspend"), v).status == "holds"


def test_window_boundaries() -> None:
    assert gs.window_start(3600.0, 3600.0) == 3600.0  # a window holds its start
    assert gs.window_start(3599.999, 3600.0) == 0.0  # and not its end
    assert gs.window_start(7.5, 2.5) == 7.5 and gs.window_start(7.49, 2.5) == 5.0


def test_license_conditions_accept_exactly_the_gateway_metrics() -> None:
    assert set(license_conditions.GATEWAY_METRICS) == set(gs.METRICS)
    stored = license_conditions.validate(["gateway.refusal_rate < 0.2 => suspend after 2 windows"])
    assert stored == [{"metric": "gateway.refusal_rate", "op": "<", "value": 0.2, "action": "suspend", "after": 2}]
    with pytest.raises(Exception, match="did you mean 'gateway.refusal_rate'"):
        license_conditions.validate(["gateway.refusal_rat < 0.2 => suspend"])


@st.composite
def tallies(draw: st.DrawFn) -> gs.Tally:
    refused = draw(st.integers(0, 500))
    forwarded = draw(st.integers(0, 500))
    held = draw(st.integers(0, 50))  # held for approval: counted, not refused
    return gs.Tally(
        calls=refused + forwarded + held,
        refused=refused,
        tool_scope_refused=draw(st.integers(0, refused)),
        forwarded=forwarded,
        errors=draw(st.integers(0, forwarded)),
    )


@given(st.lists(tallies(), max_size=6), st.integers(min_value=1, max_value=200))
def test_rates_are_shares_with_a_value_exactly_at_or_above_the_minimum(parts: list[gs.Tally], min_calls: int) -> None:
    t = gs.total(parts)
    assert t.calls == sum(p.calls for p in parts)  # windows add up, whatever the order the entries were counted in
    v = gs.values(t, min_calls)
    for metric, den in (
        (gs.REFUSAL_RATE, t.calls),
        (gs.TOOL_SCOPE_REFUSAL_RATE, t.calls),
        (gs.ERROR_RATE, t.forwarded),
    ):
        rate = v[metric]
        assert (rate is None) == (den < min_calls)
        assert rate is None or 0.0 <= rate <= 1.0
    tool, refused = v[gs.TOOL_SCOPE_REFUSAL_RATE], v[gs.REFUSAL_RATE]
    assert tool is None or refused is not None and tool <= refused
