"""Drift statistics against SciPy on the raw samples, within the tolerances documented in `drift`."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from charter.monitoring import DriftThresholds, ProfileSpec, ReferenceProfile, build_profile, drift_report, sketch_rows
from charter.monitoring.drift import (
    chi_square,
    js_distance,
    ks_error_bound,
    ks_statistic,
    psi,
    wasserstein,
    wasserstein_error_bound,
)
from charter.monitoring.grid import GridCounts

RNG = np.random.default_rng(11)
N = 60_000
SAMPLES = {
    "normal": (RNG.normal(0, 1, N), RNG.normal(0.1, 1.1, N)),
    "exponential": (RNG.exponential(1.0, N), RNG.exponential(1.3, N)),
    "lognormal": (RNG.lognormal(0, 1, N), RNG.lognormal(0.05, 1, N)),
    "same": (RNG.normal(0, 1, N), RNG.normal(0, 1, N)),
    "zero_inflated": (
        np.r_[np.zeros(N // 2), RNG.gamma(2, 1, N // 2)],
        np.r_[np.zeros(N // 3), RNG.gamma(2, 1, N - N // 3)],
    ),
    "integers": (RNG.integers(0, 5, N).astype(float), RNG.integers(0, 6, N).astype(float)),
}


def grids(ref: np.ndarray, cur: np.ndarray) -> tuple[ReferenceProfile, GridCounts, GridCounts]:
    prof = build_profile({"v": ref}, ProfileSpec(numeric=("v",)))
    return prof, prof.numeric["v"].grid, sketch_rows(prof, {"v": cur}).numeric["v"]


@pytest.mark.parametrize("name", SAMPLES)
def test_ks_from_grid_brackets_scipy(name: str) -> None:
    ref, cur = SAMPLES[name]
    _, r, c = grids(ref, cur)
    exact = stats.ks_2samp(ref, cur).statistic
    approx = ks_statistic(r.counts, c.counts)
    assert approx <= exact + 1e-12
    assert exact <= approx + ks_error_bound(r.counts) + 1e-12
    if name not in ("integers", "zero_inflated"):  # continuous: every reference cell holds ≈ 1/grid of the mass
        assert ks_error_bound(r.counts) <= 1 / 1000 + 2 / N
        assert abs(approx - exact) <= 1 / 1000 + 2 / N


def test_ks_is_exact_on_identical_bins_at_every_value() -> None:
    ref, cur = RNG.integers(0, 40, 5000), RNG.integers(3, 45, 7000)
    edges = np.unique(np.r_[ref, cur])
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    assert ks_statistic(r, c) == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)


@pytest.mark.parametrize("name", SAMPLES)
def test_wasserstein_from_grid_within_its_bound(name: str) -> None:
    ref, cur = SAMPLES[name]
    _, r, c = grids(ref, cur)
    exact = stats.wasserstein_distance(ref, cur)
    approx = wasserstein(r, c)
    assert abs(approx - exact) <= wasserstein_error_bound(r, c) + 1e-12
    # Observed accuracy, far inside the bound: within 1% of the distance or 0.1% of the reference σ.
    assert abs(approx - exact) <= max(0.01 * exact, 0.001 * ref.std())


def test_wasserstein_is_exact_for_integer_features_with_the_same_values() -> None:
    ref, cur = RNG.integers(0, 7, 20_000).astype(float), RNG.integers(1, 7, 30_000).astype(float)
    _, r, c = grids(ref, cur)
    assert wasserstein_error_bound(r, c) == 0.0
    assert wasserstein(r, c) == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)


def test_wasserstein_of_constant_columns() -> None:
    _, r, c = grids(np.full(100, 3.0), np.full(50, 5.0))
    assert wasserstein(r, c) == pytest.approx(2.0)
    _, r, c = grids(np.full(100, 3.0), np.full(50, 3.0))
    assert wasserstein(r, c) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_chi_square_matches_scipy_contingency(seed: int) -> None:
    r = np.random.default_rng(seed)
    ref, cur = r.integers(0, 500, 8), r.integers(0, 500, 8)
    ref[2] = cur[2] = 0  # empty on both sides: dropped
    cur[5] = 0
    ref[7] = 0  # unseen in the reference
    got = chi_square(ref, cur)
    table = np.vstack([ref, cur])
    want = stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    assert got.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert got.p_value == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)
    assert got.dof == want.dof


def test_chi_square_degenerate_tables() -> None:
    assert chi_square(np.array([5, 0]), np.array([7, 0])).dof == 0
    assert chi_square(np.array([0, 0]), np.array([7, 1])).p_value == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_js_distance_matches_scipy(seed: int) -> None:
    r = np.random.default_rng(seed)
    ref, cur = r.integers(0, 100, 12), r.integers(0, 100, 12)
    ref[3] = 0
    cur[4] = 0
    assert js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-12)
    assert js_distance(ref, ref * 3) == pytest.approx(0.0, abs=1e-7)
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


def test_psi_formula_and_epsilon_smoothing() -> None:
    ref, cur = np.array([10, 20, 30, 40]), np.array([20, 20, 20, 40])
    r, c = ref / ref.sum(), cur / cur.sum()
    assert psi(ref, cur) == pytest.approx(np.sum((c - r) * np.log(c / r)), rel=1e-12)
    # An empty bin on one side is floored at epsilon: finite, and bigger with a smaller epsilon.
    one_sided = psi(np.array([50, 50, 0]), np.array([40, 40, 20]))
    assert math.isfinite(one_sided)
    assert psi(np.array([50, 50, 0]), np.array([40, 40, 20]), epsilon=1e-6) > one_sided
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) * 2 + (0.2 - 1e-4) * math.log(0.2 / 1e-4)
    assert one_sided == pytest.approx(expected, rel=1e-12)
    assert psi(np.array([5, 0, 5]), np.array([5, 0, 5])) == 0.0
    assert math.isnan(psi(np.array([0, 0]), np.array([1, 1])))


def test_psi_over_reference_deciles_is_near_zero_without_drift() -> None:
    ref, cur = SAMPLES["same"]
    prof, _, _ = grids(ref, cur)
    report = drift_report(prof, sketch_rows(prof, {"v": cur}))
    assert report.features[0].psi is not None and report.features[0].psi < 0.01
    assert report.features[0].status == "ok"


def test_report_statuses_follow_thresholds(profile: ReferenceProfile, current: pa.Table) -> None:
    report = drift_report(profile, sketch_rows(profile, current))
    by_name = {f.feature: f for f in report.features}
    x, k, c = by_name["x"], by_name["k"], by_name["c"]
    assert x.psi is not None and x.psi < 0.1 and x.wasserstein is not None and 0.1 <= x.wasserstein < 0.2
    assert x.status == "warn"  # Wasserstein/σ warns although PSI does not
    assert k.wasserstein is not None and k.wasserstein >= 0.2 and k.status == "breach"
    assert c.psi is not None and c.psi >= 0.25 and c.status == "breach"
    assert c.js is not None and c.chi2_p is not None and c.ks is None and c.wasserstein is None
    assert report.prediction is not None and report.prediction.status == "breach"
    assert report.status == "breach" and report.sufficient
    relaxed = DriftThresholds(psi_warn=5, psi_breach=9, wasserstein_warn=0.18, wasserstein_breach=9, js_warn=5)
    statuses = {f.feature: f.status for f in drift_report(profile, sketch_rows(profile, current), relaxed).features}
    assert statuses == {"x": "ok", "e": "ok", "k": "warn", "c": "ok"}
    for js_breach, status in ((None, "warn"), (0.2, "breach")):
        t = DriftThresholds(psi_warn=5, psi_breach=9, js_breach=js_breach)
        assert {f.feature: f.status for f in drift_report(profile, sketch_rows(profile, current), t).features}[
            "c"
        ] == status


def test_no_verdict_below_minimum_rows(profile: ReferenceProfile, current: pa.Table) -> None:
    report = drift_report(profile, sketch_rows(profile, current.slice(0, 999)))
    assert not report.sufficient
    assert {f.status for f in report.features} == {"insufficient"}
    assert report.features[0].psi is not None  # still computed, just not judged


def test_categorical_drift_counts_unseen_values(profile: ReferenceProfile, current: pa.Table) -> None:
    report = drift_report(profile, sketch_rows(profile, current))
    c = next(f for f in report.features if f.feature == "c")
    ref = profile.categorical["c"].counts[:-1]
    cur = sketch_rows(profile, current).categorical["c"][:-1]
    assert cur[-1] > 0  # "new" landed in __unseen__
    assert c.js == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-12)
