"""Group fairness metrics per sensitive attribute, from one `np.bincount` over (group, label, prediction).

Definitions match Fairlearn's defaults (`method="between_groups"`, `agg="worst_case"`):
dp_diff = max - min selection rate; dp_ratio = disparate_impact = min / max selection rate;
eo_diff = max(TPR max - min, FPR max - min); the four-fifths rule passes when disparate_impact >= 0.8.

Groups with fewer than `min_group_size` rows or `min_positives` actual positives are reported with
`insufficient_data=True` and take no part in the attribute-level figures, so a tiny group cannot decide a
verdict by noise. With both thresholds at 0 every group counts and the figures equal Fairlearn's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from charter.core.errors import InvalidInput

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIN_GROUP_SIZE = 100
MIN_POSITIVES = 30
FOUR_FIFTHS = 0.8
# Ratios such as 0.24 / 0.3 land a hair under 0.8 in binary floating point.
_RATIO_TOLERANCE = 1e-12

# Column order of the per-group confusion cells: index = 2 * label + prediction.
TN, FP, FN, TP = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class GroupColumn:
    """A sensitive attribute encoded as integer codes into sorted string labels."""

    labels: tuple[str, ...]
    codes: npt.NDArray[np.intp]

    @property
    def n_groups(self) -> int:
        return len(self.labels)


def encode_groups(values: npt.ArrayLike) -> GroupColumn:
    """Encode any 1-D array of group values as sorted string labels plus codes."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInput(f"sensitive attribute must be one value per row, got an array of shape {arr.shape}")
    try:
        # Unique raw values first: far cheaper than turning every row into a string.
        uniq, inverse = np.unique(arr, return_inverse=True)
    except TypeError:  # mixed types in an object array
        uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
    names = [str(x) for x in uniq]
    if len(set(names)) < len(names):
        uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
        names = [str(x) for x in uniq]
    order = np.argsort(np.array(names, dtype=object), kind="stable")
    remap = np.empty(len(names), dtype=np.intp)
    remap[order] = np.arange(len(names), dtype=np.intp)
    codes = remap[inverse.reshape(-1)]
    return GroupColumn(labels=tuple(names[i] for i in order), codes=codes)


@dataclass(frozen=True)
class GroupMetrics:
    """Metrics of one group; rates are None when their denominator is empty."""

    group: str
    n: int
    positives: int
    predicted_positives: int
    selection_rate: float
    tpr: float | None
    fpr: float | None
    accuracy: float
    insufficient_data: bool

    def to_dict(self) -> dict[str, Any]:
        """Evidence form of one group."""
        return {
            "n": self.n,
            "positives": self.positives,
            "selection_rate": self.selection_rate,
            "tpr": self.tpr,
            "fpr": self.fpr,
            "accuracy": self.accuracy,
            "insufficient_data": self.insufficient_data,
        }


@dataclass(frozen=True)
class AttributeFairness:
    """Fairness of one sensitive attribute; attribute-level figures are None below two sufficient groups."""

    attribute: str
    groups: tuple[GroupMetrics, ...]
    dp_diff: float | None
    dp_ratio: float | None
    eo_diff: float | None
    disparate_impact: float | None
    four_fifths_pass: bool | None

    @property
    def evaluated_groups(self) -> tuple[str, ...]:
        return tuple(g.group for g in self.groups if not g.insufficient_data)

    def to_dict(self) -> dict[str, Any]:
        """Evidence form: {dp_diff, dp_ratio, eo_diff, disparate_impact, four_fifths_pass, groups}."""
        return {
            "dp_diff": self.dp_diff,
            "dp_ratio": self.dp_ratio,
            "eo_diff": self.eo_diff,
            "disparate_impact": self.disparate_impact,
            "four_fifths_pass": self.four_fifths_pass,
            "groups": {g.group: g.to_dict() for g in self.groups},
        }


def group_confusion(y_true: BoolArray, y_pred: BoolArray, codes: npt.NDArray[np.intp], n_groups: int) -> IntArray:
    """Per-group confusion cells, shape (n_groups, 4) in [tn, fp, fn, tp] order."""
    if not (y_true.shape == y_pred.shape == codes.shape):
        raise InvalidInput(
            f"labels, predictions and groups differ in length: {y_true.shape[0]}, {y_pred.shape[0]}, "
            f"{codes.shape[0]}; pass one value per row in each"
        )
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= n_groups):
        raise InvalidInput(f"group codes must lie in [0, {n_groups}); encode groups with encode_groups()")
    key = codes * 4 + y_true.astype(np.intp) * 2 + y_pred.astype(np.intp)
    return np.bincount(key, minlength=4 * n_groups).reshape(n_groups, 4).astype(np.int64)


def group_rates(cells: npt.NDArray[Any]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Selection rate, TPR and FPR from cells of shape (..., groups, 4); NaN where undefined."""
    c = cells.astype(np.float64)
    n = c.sum(axis=-1)
    pos = c[..., FN] + c[..., TP]
    neg = c[..., TN] + c[..., FP]
    with np.errstate(invalid="ignore", divide="ignore"):
        selection = (c[..., FP] + c[..., TP]) / n
        tpr = c[..., TP] / pos
        fpr = c[..., FP] / neg
    return selection, tpr, fpr


def _spread(rates: FloatArray) -> FloatArray:
    """max - min over the last axis ignoring NaN; NaN when fewer than two groups have the rate defined."""
    defined = (~np.isnan(rates)).sum(axis=-1)
    hi = np.where(np.isnan(rates), -np.inf, rates).max(axis=-1)
    lo = np.where(np.isnan(rates), np.inf, rates).min(axis=-1)
    out: FloatArray = np.where(defined >= 2, hi - lo, np.nan)
    return out


def disparities(cells: npt.NDArray[Any]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(dp_diff, eo_diff, disparate_impact) over the group axis of cells shaped (..., groups, 4)."""
    selection, tpr, fpr = group_rates(cells)
    dp_diff = _spread(selection)
    eo_diff = np.fmax(_spread(tpr), _spread(fpr))
    hi = np.where(np.isnan(selection), -np.inf, selection).max(axis=-1)
    lo = np.where(np.isnan(selection), np.inf, selection).min(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Every group selecting nobody is parity, not an undefined ratio.
        ratio = np.where(hi > 0, lo / hi, np.where(np.isfinite(hi), 1.0, np.nan))
    return dp_diff, eo_diff, ratio


def sufficient_groups(cells: IntArray, *, min_group_size: int, min_positives: int) -> npt.NDArray[np.bool_]:
    """Mask of groups with enough rows and actual positives to take part in a verdict."""
    n = cells.sum(axis=1)
    positives = cells[:, FN] + cells[:, TP]
    mask: npt.NDArray[np.bool_] = (n >= max(min_group_size, 1)) & (positives >= min_positives)
    return mask


def _opt(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def fairness_from_confusion(
    attribute: str,
    labels: tuple[str, ...],
    cells: IntArray,
    *,
    min_group_size: int = MIN_GROUP_SIZE,
    min_positives: int = MIN_POSITIVES,
) -> AttributeFairness:
    """Attribute fairness from per-group confusion cells (shape (groups, 4))."""
    sufficient = sufficient_groups(cells, min_group_size=min_group_size, min_positives=min_positives)
    selection, tpr, fpr = group_rates(cells)
    groups: list[GroupMetrics] = []
    for i, label in enumerate(labels):
        n = int(cells[i].sum())
        if n == 0:
            continue
        groups.append(
            GroupMetrics(
                group=label,
                n=n,
                positives=int(cells[i, FN] + cells[i, TP]),
                predicted_positives=int(cells[i, FP] + cells[i, TP]),
                selection_rate=float(selection[i]),
                tpr=_opt(float(tpr[i])),
                fpr=_opt(float(fpr[i])),
                accuracy=float((cells[i, TP] + cells[i, TN]) / n),
                insufficient_data=not bool(sufficient[i]),
            )
        )
    if int(sufficient.sum()) < 2:
        return AttributeFairness(attribute, tuple(groups), None, None, None, None, None)
    dp_diff, eo_diff, ratio = disparities(cells[sufficient])
    di = _opt(float(ratio))
    return AttributeFairness(
        attribute=attribute,
        groups=tuple(groups),
        dp_diff=_opt(float(dp_diff)),
        dp_ratio=di,
        eo_diff=_opt(float(eo_diff)),
        disparate_impact=di,
        four_fifths_pass=None if di is None else di >= FOUR_FIFTHS - _RATIO_TOLERANCE,
    )


def attribute_fairness(
    y_true: BoolArray,
    y_pred: BoolArray,
    groups: GroupColumn | npt.ArrayLike,
    *,
    attribute: str,
    min_group_size: int = MIN_GROUP_SIZE,
    min_positives: int = MIN_POSITIVES,
) -> AttributeFairness:
    """Fairness of one sensitive attribute (raw values are encoded with `encode_groups`)."""
    column = groups if isinstance(groups, GroupColumn) else encode_groups(groups)
    cells = group_confusion(y_true, y_pred, column.codes, column.n_groups)
    return fairness_from_confusion(
        attribute, column.labels, cells, min_group_size=min_group_size, min_positives=min_positives
    )


def compute_fairness(
    y_true: BoolArray,
    y_pred: BoolArray,
    sensitive: Mapping[str, GroupColumn | npt.ArrayLike],
    *,
    min_group_size: int = MIN_GROUP_SIZE,
    min_positives: int = MIN_POSITIVES,
) -> dict[str, AttributeFairness]:
    """Fairness of every sensitive attribute, keyed by attribute name."""
    return {
        name: attribute_fairness(
            y_true, y_pred, values, attribute=name, min_group_size=min_group_size, min_positives=min_positives
        )
        for name, values in sensitive.items()
    }
