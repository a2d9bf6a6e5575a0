"""Bootstrap intervals: the multinomial draw is the same bootstrap as resampling rows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from charter.core.errors import InvalidInput
from charter.evaluation.fairness import attribute_fairness, encode_groups
from charter.evaluation.metrics import compute_performance
from charter.evaluation.resampling import bootstrap_intervals


def _data(n: int, seed: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.str_]]:
    rng = np.random.default_rng(seed)
    g = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
    y = rng.random(n) < 0.4
    y_hat = (0.4 * y + 0.6 * rng.random(n) + 0.08 * (g == "a")) > 0.55
    return y, y_hat, g


def _row_bootstrap(
    y: npt.NDArray[np.bool_], y_hat: npt.NDArray[np.bool_], g: npt.NDArray[np.str_], resamples: int, seed: int
) -> dict[str, np.ndarray]:
    """Reference: resample row indices and recompute everything from scratch."""
    rng = np.random.default_rng(seed)
    n = len(y)
    acc, f1, dp = [], [], []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        perf = compute_performance(y[idx], y_hat[idx])
        acc.append(perf.accuracy)
        f1.append(perf.f1)
        dp.append(attribute_fairness(y[idx], y_hat[idx], g[idx], attribute="g").dp_diff)
    return {"accuracy": np.array(acc), "f1": np.array(f1), "dp_diff": np.array(dp, dtype=float)}


def test_same_distribution_as_row_resampling() -> None:
    y, y_hat, g = _data(3_000, 1)
    reference = _row_bootstrap(y, y_hat, g, 1_500, seed=11)
    ours = bootstrap_intervals(y, y_hat, {"g": encode_groups(g)}, resamples=1_500, seed=12)
    for metric in ("accuracy", "f1", "dp_diff"):
        lo, hi = ours.intervals[metric]
        ref_lo, ref_hi = np.quantile(reference[metric], [0.025, 0.975])
        width = ref_hi - ref_lo
        # Two independent 1,500-draw bootstraps of the same statistic: quantiles agree to a few % of the width.
        assert abs(lo - ref_lo) < 0.1 * width, metric
        assert abs(hi - ref_hi) < 0.1 * width, metric


def test_seeded_and_reproducible() -> None:
    y, y_hat, g = _data(2_000, 2)
    groups = {"g": encode_groups(g)}
    a = bootstrap_intervals(y, y_hat, groups, seed=5)
    b = bootstrap_intervals(y, y_hat, groups, seed=5)
    c = bootstrap_intervals(y, y_hat, groups, seed=6)
    assert a == b
    assert a.intervals != c.intervals
    assert a.resamples == 200 and a.confidence == 0.95 and a.note is None


def test_intervals_bracket_the_estimate_and_keys() -> None:
    y, y_hat, g = _data(5_000, 3)
    res = bootstrap_intervals(y, y_hat, {"g": encode_groups(g), "h": encode_groups(np.arange(5_000) % 2)})
    perf = compute_performance(y, y_hat)
    assert set(res.intervals) == {
        "accuracy", "f1", "dp_diff", "eo_diff", "dp_diff.g", "eo_diff.g", "dp_diff.h", "eo_diff.h",
    }  # fmt: skip
    lo, hi = res.intervals["accuracy"]
    assert lo < perf.accuracy < hi
    lo, hi = res.intervals["f1"]
    assert lo < perf.f1 < hi
    dp_g = attribute_fairness(y, y_hat, g, attribute="g").dp_diff
    lo, hi = res.intervals["dp_diff.g"]
    assert dp_g is not None and lo < dp_g < hi
    assert res.intervals["dp_diff"][1] >= max(res.intervals["dp_diff.g"][1], res.intervals["dp_diff.h"][1]) - 1e-12
    assert res.to_dict()["accuracy"] == list(res.intervals["accuracy"])


def test_narrower_with_lower_confidence_and_no_attributes() -> None:
    y, y_hat, _ = _data(2_000, 4)
    wide = bootstrap_intervals(y, y_hat, resamples=400, confidence=0.99)
    narrow = bootstrap_intervals(y, y_hat, resamples=400, confidence=0.5)
    assert set(wide.intervals) == {"accuracy", "f1"}
    w = wide.intervals["accuracy"][1] - wide.intervals["accuracy"][0]
    nw = narrow.intervals["accuracy"][1] - narrow.intervals["accuracy"][0]
    assert nw < w


def test_attribute_without_two_sufficient_groups_has_no_interval() -> None:
    y, y_hat, _ = _data(1_000, 5)
    tiny = np.array(["big"] * 990 + ["small"] * 10)
    res = bootstrap_intervals(y, y_hat, {"t": encode_groups(tiny)})
    assert "dp_diff.t" not in res.intervals and "dp_diff" not in res.intervals


def test_million_rows_keep_all_resamples() -> None:
    rng = np.random.default_rng(6)
    n = 1_000_000
    y = rng.random(n) < 0.3
    y_hat = rng.random(n) < 0.3
    g = encode_groups(rng.integers(0, 4, n))
    res = bootstrap_intervals(y, y_hat, {"g": g})
    assert res.resamples == 200 and res.note is None
    lo, hi = res.intervals["accuracy"]
    assert hi - lo < 0.005


def test_resamples_reduced_when_cells_are_many() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    y = rng.random(n) < 0.5
    ids = encode_groups(np.arange(n) % 5_000)  # 5,000 groups x 4 outcomes
    res = bootstrap_intervals(y, y, {"id": ids}, resamples=200, max_draws=1_000_000, min_group_size=0, min_positives=0)
    assert res.resamples < 200 and res.requested_resamples == 200
    assert res.note is not None and "reduced" in res.note


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"resamples": 1}, "at least 2"), ({"confidence": 1.0}, "between 0 and 1"), ({"confidence": 0.0}, "between")],
)
def test_rejects_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    y = np.array([True, False])
    with pytest.raises(InvalidInput, match=message):
        bootstrap_intervals(y, y, **kwargs)  # type: ignore[arg-type]


def test_rejects_mismatched_groups() -> None:
    y = np.array([True, False, True])
    with pytest.raises(InvalidInput, match="has 2 rows"):
        bootstrap_intervals(y, y, {"g": encode_groups(np.array(["a", "b"]))})
