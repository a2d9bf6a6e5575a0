"""Binary-classification performance metrics, vectorized with NumPy.

Conventions follow scikit-learn with `zero_division=0`: precision, recall and F1 are 0.0 when their
denominator is empty. ROC AUC is None when only one class is present; calibration error is None when
scores fall outside [0, 1] (they are not probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from charter.core.errors import InvalidInput

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class ConfusionCounts:
    """Counts of a binary confusion matrix."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


@dataclass(frozen=True)
class PerformanceMetrics:
    """Overall performance of a binary classifier on one evaluation set."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    calibration_error: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (without confidence intervals)."""
        return {
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "roc_auc": self.roc_auc,
            "calibration_error": self.calibration_error,
            "n": self.n,
        }


def _check_same_length(**arrays: npt.NDArray[Any]) -> int:
    lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"arrays differ in length: {lengths}; pass one value per row in each")
    n = next(iter(lengths.values()))
    if n == 0:
        raise InvalidInput("no rows to evaluate; the predictions file is empty")
    return n


def confusion_counts(y_true: BoolArray, y_pred: BoolArray) -> ConfusionCounts:
    """Confusion counts from boolean labels and predictions (True = positive)."""
    _check_same_length(y_true=y_true, y_pred=y_pred)
    cells = np.bincount(y_true.astype(np.intp) * 2 + y_pred.astype(np.intp), minlength=4)
    tn, fp, fn, tp = (int(c) for c in cells)
    return ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=tn)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def accuracy_from_counts(c: ConfusionCounts) -> float:
    """(tp + tn) / n."""
    return _ratio(c.tp + c.tn, c.n)


def precision_from_counts(c: ConfusionCounts) -> float:
    """tp / (tp + fp), 0.0 when nothing is predicted positive."""
    return _ratio(c.tp, c.tp + c.fp)


def recall_from_counts(c: ConfusionCounts) -> float:
    """tp / (tp + fn), 0.0 when there are no positives."""
    return _ratio(c.tp, c.tp + c.fn)


def f1_from_counts(c: ConfusionCounts) -> float:
    """2tp / (2tp + fp + fn), 0.0 when undefined (scikit-learn's formula)."""
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)


def accuracy(y_true: BoolArray, y_pred: BoolArray) -> float:
    """Share of rows where prediction equals label."""
    return accuracy_from_counts(confusion_counts(y_true, y_pred))


def precision(y_true: BoolArray, y_pred: BoolArray) -> float:
    """Positive predictive value."""
    return precision_from_counts(confusion_counts(y_true, y_pred))


def recall(y_true: BoolArray, y_pred: BoolArray) -> float:
    """True positive rate."""
    return recall_from_counts(confusion_counts(y_true, y_pred))


def f1(y_true: BoolArray, y_pred: BoolArray) -> float:
    """Harmonic mean of precision and recall."""
    return f1_from_counts(confusion_counts(y_true, y_pred))


def _check_finite(name: str, values: FloatArray) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InvalidInput(f"{name}: row {int(bad[0]) + 1} is {float(values[bad[0]])}; scores must be finite numbers")


def roc_auc(y_true: BoolArray, y_score: FloatArray) -> float | None:
    """Area under the ROC curve (Mann-Whitney statistic, ties count half); None when only one class is present."""
    _check_same_length(y_true=y_true, y_score=y_score)
    _check_finite("score", y_score)
    n_pos = int(np.count_nonzero(y_true))
    n_neg = int(y_true.shape[0]) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    score = np.asarray(y_score, dtype=np.float64)
    # P(score_pos > score_neg) + P(tie) / 2, counted exactly in integers: for each positive, the negatives
    # strictly below it and those tied with it, by binary search in the sorted negative scores.
    neg = np.sort(score[~y_true])
    pos = np.sort(score[y_true])
    below = np.searchsorted(neg, pos, side="left")
    at_or_below = np.searchsorted(neg, pos, side="right")
    twice_wins = int(below.sum()) + int(at_or_below.sum())
    return twice_wins / (2 * n_pos * n_neg)


def calibration_bins(y_prob: FloatArray, n_bins: int = CALIBRATION_BINS) -> npt.NDArray[np.intp]:
    """Equal-width bin index of each probability; bins are right-closed like scikit-learn's calibration_curve."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], y_prob).astype(np.intp)


def expected_calibration_error(y_true: BoolArray, y_prob: FloatArray, n_bins: int = CALIBRATION_BINS) -> float | None:
    """Sum over equal-width bins of (bin share) x |observed positive rate - mean predicted probability|."""
    n = _check_same_length(y_true=y_true, y_prob=y_prob)
    prob = np.asarray(y_prob, dtype=np.float64)
    _check_finite("score", prob)
    if bool(np.any(prob < 0.0)) or bool(np.any(prob > 1.0)):
        return None
    bins = calibration_bins(prob, n_bins)
    prob_sum = np.bincount(bins, weights=prob, minlength=n_bins)
    true_sum = np.bincount(bins, weights=y_true.astype(np.float64), minlength=n_bins)
    # |sum(y) - sum(p)| / n equals (count / n) * |mean(y) - mean(p)| per bin, without dividing by empty bins.
    return float(np.abs(true_sum - prob_sum).sum() / n)


def compute_performance(y_true: BoolArray, y_pred: BoolArray, y_score: FloatArray | None = None) -> PerformanceMetrics:
    """All overall metrics in one pass over the confusion counts."""
    c = confusion_counts(y_true, y_pred)
    auc: float | None = None
    ece: float | None = None
    if y_score is not None:
        auc = roc_auc(y_true, y_score)
        ece = expected_calibration_error(y_true, y_score)
    return PerformanceMetrics(
        n=c.n,
        accuracy=accuracy_from_counts(c),
        precision=precision_from_counts(c),
        recall=recall_from_counts(c),
        f1=f1_from_counts(c),
        roc_auc=auc,
        calibration_error=ece,
    )
