"""Percentile bootstrap confidence intervals for accuracy, F1, dp_diff and eo_diff.

Every statistic here is a function of the counts of rows in each joint cell (label, prediction, group of every
sensitive attribute). Resampling n rows with replacement gives those cell counts a Multinomial(n, observed
shares) distribution, so drawing the counts directly is the same bootstrap as resampling row indices, at a
cost of resamples x cells instead of resamples x rows: 200 resamples of 1M rows take milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from charter.core.errors import InvalidInput
from charter.evaluation.fairness import (
    FN,
    FP,
    MIN_GROUP_SIZE,
    MIN_POSITIVES,
    TN,
    TP,
    GroupColumn,
    disparities,
    group_confusion,
    sufficient_groups,
)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

DEFAULT_RESAMPLES = 200
DEFAULT_CONFIDENCE = 0.95
# resamples x joint cells drawn; beyond this the resample count is reduced (and the result says so).
MAX_DRAWS = 20_000_000
_DENSE_KEY_LIMIT = 1 << 22


@dataclass(frozen=True)
class BootstrapResult:
    """Confidence intervals keyed by metric: `accuracy`, `f1`, `dp_diff`, `eo_diff` (maximum over attributes)
    and `dp_diff.<attribute>`, `eo_diff.<attribute>`; undefined statistics are left out."""

    method: str
    resamples: int
    requested_resamples: int
    confidence: float
    seed: int
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    note: str | None = None

    def to_dict(self) -> dict[str, list[float]]:
        """Evidence form: {metric: [lo, hi]}."""
        return {k: [lo, hi] for k, (lo, hi) in sorted(self.intervals.items())}


def _joint_cells(
    y_true: BoolArray, y_pred: BoolArray, columns: list[GroupColumn]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[npt.NDArray[np.int64]]]:
    """Counts per observed joint cell, the 2*label+prediction of each cell and each attribute's group code."""
    radices = [4] + [c.n_groups for c in columns]
    total = 1
    for r in radices:
        total *= r
    key = y_true.astype(np.int64) * 2 + y_pred.astype(np.int64)
    if total < (1 << 62):
        scale = 4
        for c in columns:
            key = key + c.codes.astype(np.int64) * scale
            scale *= c.n_groups
        if total <= _DENSE_KEY_LIMIT:
            dense = np.bincount(key, minlength=total)
            cell_keys = np.flatnonzero(dense).astype(np.int64)
            counts = dense[cell_keys].astype(np.int64)
        else:
            uniq, counts_i = np.unique(key, return_counts=True)
            cell_keys, counts = uniq.astype(np.int64), counts_i.astype(np.int64)
        outcome = cell_keys % 4
        rest = cell_keys // 4
        codes = []
        for c in columns:
            codes.append(rest % c.n_groups)
            rest = rest // c.n_groups
        return counts, outcome, codes
    # Too many combinations for one integer key: deduplicate rows of the code matrix instead.
    matrix = np.column_stack([key] + [c.codes.astype(np.int64) for c in columns])
    uniq_rows, counts_r = np.unique(matrix, axis=0, return_counts=True)
    return counts_r.astype(np.int64), uniq_rows[:, 0], [uniq_rows[:, i + 1] for i in range(len(columns))]


def _interval(values: FloatArray, confidence: float) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _aggregate(draws: npt.NDArray[np.int64], index: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
    """Sum cell counts of each resample into `size` buckets: bincount over (resample offset + bucket index)."""
    b = draws.shape[0]
    flat = (np.arange(b, dtype=np.int64)[:, None] * size + index[None, :]).ravel()
    out = np.bincount(flat, weights=draws.ravel().astype(np.float64), minlength=b * size)
    return np.rint(out).astype(np.int64).reshape(b, size)


def bootstrap_intervals(
    y_true: BoolArray,
    y_pred: BoolArray,
    sensitive: Mapping[str, GroupColumn] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    min_group_size: int = MIN_GROUP_SIZE,
    min_positives: int = MIN_POSITIVES,
    max_draws: int = MAX_DRAWS,
) -> BootstrapResult:
    """Seeded percentile bootstrap CIs; fairness CIs use the groups with sufficient data on the full sample."""
    if resamples < 2:
        raise InvalidInput(f"resamples must be at least 2, got {resamples}", field="resamples")
    if not 0.0 < confidence < 1.0:
        raise InvalidInput(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}", field="confidence")
    n = int(y_true.shape[0])
    if n == 0 or y_pred.shape[0] != n:
        raise InvalidInput(f"labels and predictions need the same, non-zero length; got {n} and {y_pred.shape[0]}")
    attrs = dict(sensitive or {})
    for name, col in attrs.items():
        if col.codes.shape[0] != n:
            raise InvalidInput(f"sensitive attribute '{name}' has {col.codes.shape[0]} rows, predictions have {n}")
    counts, outcome, codes = _joint_cells(y_true, y_pred, list(attrs.values()))
    k = int(counts.shape[0])

    used, note = resamples, None
    if resamples * k > max_draws:
        used = max(2, max_draws // k)
        note = f"resamples reduced from {resamples} to {used}: {k} joint cells would exceed {max_draws} draws"

    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts / n, size=used).astype(np.int64)

    overall = _aggregate(draws, outcome, 4)
    tp, fp, fn, tn = (overall[:, i].astype(np.float64) for i in (TP, FP, FN, TN))
    acc = (tp + tn) / n
    f1_den = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(f1_den > 0, 2 * tp / f1_den, 0.0)

    stats: dict[str, FloatArray] = {"accuracy": acc, "f1": f1}
    dp_all: list[FloatArray] = []
    eo_all: list[FloatArray] = []
    for (name, col), group_codes in zip(attrs.items(), codes, strict=True):
        full = group_confusion(y_true, y_pred, col.codes, col.n_groups)
        mask = sufficient_groups(full, min_group_size=min_group_size, min_positives=min_positives)
        if int(mask.sum()) < 2:
            continue
        size = 4 * col.n_groups
        cells = _aggregate(draws, group_codes * 4 + outcome, size).reshape(used, col.n_groups, 4)
        dp, eo, _ratio = disparities(cells[:, mask, :])
        stats[f"dp_diff.{name}"] = dp
        stats[f"eo_diff.{name}"] = eo
        dp_all.append(dp)
        eo_all.append(eo)
    if dp_all:
        stats["dp_diff"] = np.fmax.reduce(np.stack(dp_all), axis=0)
        stats["eo_diff"] = np.fmax.reduce(np.stack(eo_all), axis=0)

    intervals: dict[str, tuple[float, float]] = {}
    for key, values in stats.items():
        ci = _interval(values, confidence)
        if ci is not None:
            intervals[key] = ci
    return BootstrapResult(
        method="multinomial",
        resamples=used,
        requested_resamples=resamples,
        confidence=confidence,
        seed=seed,
        intervals=intervals,
        note=note,
    )
