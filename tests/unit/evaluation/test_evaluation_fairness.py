"""Group fairness metrics agree with Fairlearn 0.15 to 1e-9."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score

from charter.core.errors import InvalidInput
from charter.evaluation.fairness import attribute_fairness, compute_fairness, encode_groups, group_confusion

TOL = 1e-9


def _data(
    n: int, seed: int, groups: list[str], bias: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.str_]]:
    rng = np.random.default_rng(seed)
    g = rng.choice(groups, size=n)
    y = rng.random(n) < 0.4
    shift = np.array([bias * i for i in range(len(groups))])[np.searchsorted(sorted(groups), g)]
    y_hat = (0.4 * y + 0.6 * rng.random(n) + shift) > 0.55
    return y, y_hat, g


def _fairlearn_frame(y: npt.NDArray[np.bool_], y_hat: npt.NDArray[np.bool_], g: npt.NDArray[np.str_]) -> MetricFrame:
    return MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "accuracy": accuracy_score,
        },
        y_true=y.astype(int),
        y_pred=y_hat.astype(int),
        sensitive_features=g,
    )


@pytest.mark.parametrize(
    ("n", "seed", "groups", "bias"),
    [
        (2_000, 1, ["f", "m"], 0.0),
        (5_000, 2, ["f", "m"], 0.15),
        (10_000, 3, ["a", "b", "c", "d"], 0.05),
        (8_000, 4, ["18-25", "26-40", "41-60", "60+", "unknown"], -0.04),
    ],
)
def test_matches_fairlearn(n: int, seed: int, groups: list[str], bias: float) -> None:
    y, y_hat, g = _data(n, seed, groups, bias)
    ours = attribute_fairness(y, y_hat, g, attribute="attr", min_group_size=0, min_positives=0)
    frame = _fairlearn_frame(y, y_hat, g).by_group
    assert [m.group for m in ours.groups] == [str(x) for x in frame.index]
    for m in ours.groups:
        row = frame.loc[m.group]
        assert m.selection_rate == pytest.approx(row["selection_rate"], abs=TOL)
        assert m.tpr == pytest.approx(row["tpr"], abs=TOL)
        assert m.fpr == pytest.approx(row["fpr"], abs=TOL)
        assert m.accuracy == pytest.approx(row["accuracy"], abs=TOL)
        assert m.n == int((g == m.group).sum())
        assert m.positives == int(y[g == m.group].sum())
    assert ours.dp_diff == pytest.approx(demographic_parity_difference(y, y_hat, sensitive_features=g), abs=TOL)
    assert ours.dp_ratio == pytest.approx(demographic_parity_ratio(y, y_hat, sensitive_features=g), abs=TOL)
    assert ours.disparate_impact == ours.dp_ratio
    assert ours.eo_diff == pytest.approx(equalized_odds_difference(y, y_hat, sensitive_features=g), abs=TOL)
    assert ours.disparate_impact is not None and ours.four_fifths_pass is (ours.disparate_impact >= 0.8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.sampled_from("abc")), min_size=12, max_size=200))
def test_matches_fairlearn_property(rows: list[tuple[bool, bool, str]]) -> None:
    y = np.array([r[0] for r in rows])
    y_hat = np.array([r[1] for r in rows])
    g = np.array([r[2] for r in rows])
    # Fairlearn/scikit-learn report 0.0 for a rate with an empty denominator; Charter reports None and leaves
    # the group out of that spread, so compare where every group has both classes.
    for grp in np.unique(g):
        yg = y[g == grp]
        if yg.all() or not yg.any():
            return
    ours = attribute_fairness(y, y_hat, g, attribute="g", min_group_size=0, min_positives=0)
    if len(ours.groups) < 2:
        assert ours.dp_diff is None
        return
    assert ours.dp_diff == pytest.approx(demographic_parity_difference(y, y_hat, sensitive_features=g), abs=TOL)
    assert ours.eo_diff == pytest.approx(equalized_odds_difference(y, y_hat, sensitive_features=g), abs=TOL)
    if y_hat.any():
        assert ours.dp_ratio == pytest.approx(demographic_parity_ratio(y, y_hat, sensitive_features=g), abs=TOL)
    else:
        assert ours.dp_ratio == 1.0  # nobody selected anywhere is parity (Fairlearn: 0/0 = nan)
    frame = _fairlearn_frame(y, y_hat, g).by_group
    for m in ours.groups:
        assert m.selection_rate == pytest.approx(frame.loc[m.group, "selection_rate"], abs=TOL)
        assert m.tpr == pytest.approx(frame.loc[m.group, "tpr"], abs=TOL)
        assert m.fpr == pytest.approx(frame.loc[m.group, "fpr"], abs=TOL)


def test_small_groups_are_flagged_and_left_out_of_the_verdict() -> None:
    y, y_hat, g = _data(6_000, 7, ["a", "b"], 0.02)
    # A tiny third group that selects nobody would fail the four-fifths rule on its own.
    y = np.concatenate([y, [True] * 10 + [False] * 10])
    y_hat = np.concatenate([y_hat, [False] * 20])
    g = np.concatenate([g, ["tiny"] * 20])
    res = attribute_fairness(y, y_hat, g, attribute="g")
    tiny = next(m for m in res.groups if m.group == "tiny")
    assert tiny.insufficient_data and tiny.n == 20 and tiny.selection_rate == 0.0
    assert res.evaluated_groups == ("a", "b")
    keep = g != "tiny"
    assert res.dp_diff == pytest.approx(
        demographic_parity_difference(y[keep], y_hat[keep], sensitive_features=g[keep]), abs=TOL
    )
    assert res.four_fifths_pass is True
    everything = attribute_fairness(y, y_hat, g, attribute="g", min_group_size=0, min_positives=0)
    assert everything.disparate_impact == 0.0 and everything.four_fifths_pass is False


def test_positives_threshold() -> None:
    n = 400
    y = np.zeros(n, dtype=bool)
    y[:29] = True  # group "a" has 29 positives: below 30
    y[200:260] = True
    g = np.array(["a"] * 200 + ["b"] * 200)
    res = attribute_fairness(y, y, g, attribute="g")
    flags = {m.group: m.insufficient_data for m in res.groups}
    assert flags == {"a": True, "b": False}
    assert res.dp_diff is None and res.four_fifths_pass is None


def test_rates_without_denominator_are_none() -> None:
    y = np.array([False, False, True, True])
    y_hat = np.array([True, False, True, False])
    g = np.array(["neg", "neg", "pos", "pos"])
    res = attribute_fairness(y, y_hat, g, attribute="g", min_group_size=0, min_positives=0)
    by = {m.group: m for m in res.groups}
    assert by["neg"].tpr is None and by["neg"].fpr == 0.5
    assert by["pos"].fpr is None and by["pos"].tpr == 0.5
    assert res.eo_diff is None  # neither rate is defined in two groups
    assert res.dp_diff == 0.0


def test_four_fifths_boundary_counts_as_pass() -> None:
    # selection rates 0.24 and 0.30: 0.24 / 0.3 is 0.7999999999999999 in floating point.
    g = np.array(["a"] * 100 + ["b"] * 100)
    y = np.zeros(200, dtype=bool)
    y_hat = np.zeros(200, dtype=bool)
    y_hat[:24] = True
    y_hat[100:130] = True
    res = attribute_fairness(y, y_hat, g, attribute="g", min_group_size=0, min_positives=0)
    assert res.disparate_impact == pytest.approx(0.8)
    assert res.four_fifths_pass is True


def test_compute_fairness_many_attributes_and_encoding() -> None:
    y, y_hat, g = _data(3_000, 5, ["x", "y"], 0.1)
    ages = np.arange(3_000) % 3
    out = compute_fairness(y, y_hat, {"sex": g, "age": ages}, min_group_size=0, min_positives=0)
    assert set(out) == {"sex", "age"}
    assert [m.group for m in out["age"].groups] == ["0", "1", "2"]
    col = encode_groups(np.array(["b", "a", "b"]))
    assert col.labels == ("a", "b") and col.codes.tolist() == [1, 0, 1]
    assert out["sex"].to_dict()["groups"]["x"]["n"] == int((g == "x").sum())


def test_length_mismatch_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="differ in length"):
        group_confusion(np.array([True]), np.array([True]), np.array([0, 1]), 2)
    with pytest.raises(InvalidInput, match="group codes"):
        group_confusion(np.array([True]), np.array([True]), np.array([3]), 2)
