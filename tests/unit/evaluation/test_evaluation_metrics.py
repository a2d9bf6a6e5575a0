"""Performance metrics agree with scikit-learn to 1e-9."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from charter.core.errors import InvalidInput
from charter.evaluation.metrics import (
    compute_performance,
    confusion_counts,
    expected_calibration_error,
    roc_auc,
)

TOL = 1e-9


def _data(
    n: int, seed: int, base_rate: float = 0.3, ties: bool = False
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < base_rate
    score = np.clip(0.35 * y + 0.65 * rng.random(n), 0.0, 1.0)
    if ties:
        score = np.round(score, 1)
    return y, score >= 0.5, score


def _ece_reference(y: npt.NDArray[np.bool_], p: npt.NDArray[np.float64], n_bins: int = 10) -> float:
    """Plain loop over right-closed equal-width bins."""
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = edges[b], edges[b + 1]
        in_bin = [(yi, pi) for yi, pi in zip(y, p, strict=True) if (pi > lo or b == 0) and pi <= hi]
        if in_bin:
            ys = np.array([v[0] for v in in_bin], dtype=float)
            ps = np.array([v[1] for v in in_bin], dtype=float)
            total += len(in_bin) / len(y) * abs(ys.mean() - ps.mean())
    return total


@pytest.mark.parametrize(
    ("n", "seed", "base_rate", "ties"),
    [(50, 1, 0.3, False), (1000, 2, 0.5, False), (5000, 3, 0.1, True), (20_000, 4, 0.9, True)],
)
def test_matches_sklearn(n: int, seed: int, base_rate: float, ties: bool) -> None:
    y, y_hat, score = _data(n, seed, base_rate, ties)
    m = compute_performance(y, y_hat, score)
    assert m.n == n
    assert m.accuracy == pytest.approx(accuracy_score(y, y_hat), abs=TOL)
    assert m.precision == pytest.approx(precision_score(y, y_hat, zero_division=0), abs=TOL)
    assert m.recall == pytest.approx(recall_score(y, y_hat, zero_division=0), abs=TOL)
    assert m.f1 == pytest.approx(f1_score(y, y_hat, zero_division=0), abs=TOL)
    assert m.roc_auc == pytest.approx(roc_auc_score(y, score), abs=TOL)
    assert m.calibration_error == pytest.approx(_ece_reference(y, score), abs=TOL)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 20)), min_size=1, max_size=300),
)
def test_matches_sklearn_property(rows: list[tuple[bool, bool, int]]) -> None:
    y = np.array([r[0] for r in rows])
    y_hat = np.array([r[1] for r in rows])
    score = np.array([r[2] / 20 for r in rows])  # many ties and both bin edges
    m = compute_performance(y, y_hat, score)
    assert m.accuracy == pytest.approx(accuracy_score(y, y_hat), abs=TOL)
    assert m.precision == pytest.approx(precision_score(y, y_hat, zero_division=0), abs=TOL)
    assert m.recall == pytest.approx(recall_score(y, y_hat, zero_division=0), abs=TOL)
    assert m.f1 == pytest.approx(f1_score(y, y_hat, zero_division=0), abs=TOL)
    if 0 < y.sum() < len(y):
        assert m.roc_auc == pytest.approx(roc_auc_score(y, score), abs=TOL)
    else:
        assert m.roc_auc is None
    assert m.calibration_error == pytest.approx(_ece_reference(y, score), abs=TOL)


def test_calibration_bins_match_sklearn_calibration_curve() -> None:
    y, _, score = _data(3000, 9, ties=True)
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy="uniform")
    edges = np.searchsorted(np.linspace(0, 1, 11)[1:-1], score)
    counts = np.bincount(edges, minlength=10)
    nonempty = counts > 0
    expected = float(np.sum(counts[nonempty] / len(y) * np.abs(prob_true - prob_pred)))
    assert expected_calibration_error(y, score) == pytest.approx(expected, abs=TOL)


def test_perfectly_calibrated_scores_have_zero_error() -> None:
    y = np.array([True, False, True, False])
    p = np.array([0.5, 0.5, 0.5, 0.5])
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=TOL)


def test_undefined_cases() -> None:
    y = np.array([False, False, False])
    m = compute_performance(y, y, np.array([0.1, 0.2, 0.3]))
    assert m.precision == 0.0 and m.recall == 0.0 and m.f1 == 0.0 and m.accuracy == 1.0
    assert m.roc_auc is None
    assert roc_auc(np.array([True, False]), np.array([0.2, 0.9])) == 0.0
    assert expected_calibration_error(np.array([True, False]), np.array([2.0, -1.0])) is None
    assert compute_performance(y, y).roc_auc is None


def test_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput, match="differ in length"):
        confusion_counts(np.array([True]), np.array([True, False]))
    with pytest.raises(InvalidInput, match="no rows"):
        confusion_counts(np.array([], dtype=bool), np.array([], dtype=bool))
    with pytest.raises(InvalidInput, match="row 2 is nan"):
        roc_auc(np.array([True, False]), np.array([0.1, np.nan]))
