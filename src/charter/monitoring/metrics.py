"""Window metrics (performance, fairness, drift) flattened to stable metric ids for license conditions.

Metric ids (value `None` = no verdict: too few rows, no labels, or not applicable):

- `window.rows`, `window.labelled_rows`
- `drift.psi[F]`, `drift.ks[F]`, `drift.wasserstein[F]` (÷ reference σ), `drift.js[F]`, `drift.chi2[F]`,
  `drift.chi2_p[F]`, `drift.missing_rate[F]`; maxima over features `drift.psi_max`, `drift.ks_max`,
  `drift.wasserstein_max`, `drift.js_max`, `drift.missing_rate_max`; `drift.prediction_psi`, `drift.prediction_js`
- `perf.accuracy`, `perf.precision`, `perf.recall`, `perf.f1` (binary, positive class 1)
- `fairness.dp_diff[A]`, `fairness.eo_diff[A]` and their maxima over attributes `fairness.dp_diff`, `fairness.eo_diff`

Fairness follows Fairlearn's definitions: demographic parity difference = max − min selection rate over groups;
equalized odds difference = max(TPR spread, FPR spread). Groups with fewer than `min_group_rows` rows (DP) or fewer
than `min_group_rows` labelled rows, `min_group_positives` positives or as many negatives (EO) are flagged insufficient
and left out, as are the pseudo-groups `__other__`, `__unseen__` and `__missing__`; fewer than two groups left = `None`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from charter.monitoring.bins import GroupCounts, Vocabulary
from charter.monitoring.columns import Ints
from charter.monitoring.drift import DriftReport, DriftThresholds, FeatureDrift, drift_report
from charter.monitoring.profile import ReferenceProfile
from charter.monitoring.sketch import WindowSketch

MetricValues = dict[str, float | None]


def metric_id(name: str, key: str | None = None) -> str:
    """Stable metric id, e.g. `metric_id("drift.psi", "age")` → `drift.psi[age]`."""
    return name if key is None else f"{name}[{key}]"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class FairnessThresholds:
    min_group_rows: int = 100
    min_group_positives: int = 30  # labelled positives, and as many negatives, for equalized odds


@dataclass(frozen=True)
class Performance:
    labelled: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance(confusion: Ints) -> Performance:
    """Accuracy, precision, recall and F1 from (tn, fp, fn, tp); undefined ratios are None (F1 0 when tp = 0)."""
    tn, fp, fn, tp = (int(v) for v in confusion)
    n = tn + fp + fn + tp
    f1 = None if n == 0 else (2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return Performance(n, _ratio(tp + tn, n), _ratio(tp, tp + fp), _ratio(tp, tp + fn), f1)


@dataclass(frozen=True)
class GroupRates:
    group: str
    rows: int
    labelled: int
    positives: int
    selection_rate: float | None
    tpr: float | None
    fpr: float | None
    dp_sufficient: bool
    eo_sufficient: bool
    pseudo: bool  # __other__ / __unseen__ / __missing__: reported, never compared

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fairness:
    attribute: str
    dp_diff: float | None
    eo_diff: float | None
    tpr_diff: float | None
    fpr_diff: float | None
    groups: tuple[GroupRates, ...]

    @property
    def insufficient(self) -> tuple[str, ...]:
        """Real groups left out of at least one comparison for lack of rows."""
        return tuple(g.group for g in self.groups if not g.pseudo and not (g.dp_sufficient and g.eo_sufficient))

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "dp_diff": self.dp_diff,
            "eo_diff": self.eo_diff,
            "tpr_diff": self.tpr_diff,
            "fpr_diff": self.fpr_diff,
            "insufficient": list(self.insufficient),
            "groups": [g.to_dict() for g in self.groups],
        }


def _spread(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) - min(present) if len(present) >= 2 else None


def fairness(
    attribute: str, vocabulary: Vocabulary, counts: GroupCounts, thresholds: FairnessThresholds | None = None
) -> Fairness:
    """Per-group rates and the demographic parity / equalized odds differences of one sensitive attribute."""
    t = thresholds or FairnessThresholds()
    rates = []
    real = len(vocabulary.top)
    for i, label in enumerate(vocabulary.labels):
        tn, fp, fn, tp = (int(v) for v in counts.confusion[i])
        rows, positives, negatives = int(counts.rows[i]), fn + tp, tn + fp
        if i >= real and rows == 0:
            continue
        rates.append(
            GroupRates(
                group=label,
                rows=rows,
                labelled=positives + negatives,
                positives=positives,
                selection_rate=_ratio(int(counts.predicted[i]), rows),
                tpr=_ratio(tp, positives),
                fpr=_ratio(fp, negatives),
                dp_sufficient=rows >= t.min_group_rows,
                eo_sufficient=positives + negatives >= t.min_group_rows
                and min(positives, negatives) >= t.min_group_positives,
                pseudo=i >= real,
            )
        )
    dp = [g for g in rates if g.dp_sufficient and not g.pseudo]
    eo = [g for g in rates if g.eo_sufficient and not g.pseudo]
    tpr_diff, fpr_diff = _spread(g.tpr for g in eo), _spread(g.fpr for g in eo)
    eo_diff = None if tpr_diff is None or fpr_diff is None else max(tpr_diff, fpr_diff)
    return Fairness(attribute, _spread(g.selection_rate for g in dp), eo_diff, tpr_diff, fpr_diff, tuple(rates))


@dataclass(frozen=True)
class WindowMetrics:
    rows: int
    drift: DriftReport
    performance: Performance | None
    fairness: Mapping[str, Fairness]
    values: MetricValues = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "values": dict(self.values),
            "drift": self.drift.to_dict(),
            "performance": None if self.performance is None else self.performance.to_dict(),
            "fairness": {a: f.to_dict() for a, f in self.fairness.items()},
        }


def _max(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _drift_values(report: DriftReport, sketch_rows: int) -> MetricValues:
    out: MetricValues = {}
    stats = ("psi", "ks", "wasserstein", "js", "chi2", "chi2_p")
    per: dict[str, list[float | None]] = {s: [] for s in (*stats, "missing_rate")}
    for f in report.features:
        ok = f.status != "insufficient"
        for s in stats:
            value = getattr(f, s)
            if value is not None:
                out[metric_id(f"drift.{s}", f.feature)] = value if ok else None
                per[s].append(value if ok else None)
        rate = f.missing / sketch_rows if sketch_rows >= report.thresholds.min_rows else None
        out[metric_id("drift.missing_rate", f.feature)] = rate
        per["missing_rate"].append(rate)
    for s in ("psi", "ks", "wasserstein", "js", "missing_rate"):
        out[f"drift.{s}_max"] = _max(per[s])
    pred: FeatureDrift | None = report.prediction
    if pred is not None:
        ok = pred.status != "insufficient"
        out["drift.prediction_psi"] = pred.psi if ok else None
        out["drift.prediction_js"] = pred.js if ok else None
    return out


def window_metrics(
    profile: ReferenceProfile,
    sketch: WindowSketch,
    *,
    drift_thresholds: DriftThresholds | None = None,
    fairness_thresholds: FairnessThresholds | None = None,
) -> WindowMetrics:
    """All metrics of one window and their flat `values` keyed by stable metric ids."""
    dt = drift_thresholds or DriftThresholds()
    report = drift_report(profile, sketch, dt)
    values: MetricValues = {"window.rows": float(sketch.rows)}
    values.update(_drift_values(report, sketch.rows))
    perf = None
    if sketch.overall is not None and profile.spec.label is not None:
        perf = performance(sketch.overall.confusion[0])
        values["window.labelled_rows"] = float(perf.labelled)
        enough = perf.labelled >= dt.min_rows
        for name in ("accuracy", "precision", "recall", "f1"):
            values[f"perf.{name}"] = getattr(perf, name) if enough else None
    fair = {
        name: fairness(name, profile.groups[name].vocabulary, counts, fairness_thresholds)
        for name, counts in sketch.groups.items()
    }
    for name, f in fair.items():
        values[metric_id("fairness.dp_diff", name)] = f.dp_diff
        values[metric_id("fairness.eo_diff", name)] = f.eo_diff
    if fair:
        values["fairness.dp_diff"] = _max(f.dp_diff for f in fair.values())
        values["fairness.eo_diff"] = _max(f.eo_diff for f in fair.values())
    return WindowMetrics(sketch.rows, report, perf, fair, {k: _clean(v) for k, v in values.items()})


def _clean(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def reference_fairness(profile: ReferenceProfile, thresholds: FairnessThresholds | None = None) -> dict[str, Fairness]:
    """Fairness of the reference data itself (baseline for a window's figures)."""
    return {n: fairness(n, g.vocabulary, g.counts, thresholds) for n, g in profile.groups.items()}
