"""Assemble the evaluation evidence document that policies are evaluated against.

Shape (agreed with the policy engine; keys are fixed):
  performance: {accuracy, precision, recall, f1, roc_auc|null, calibration_error|null, n, ci: {metric: [lo, hi]}}
  fairness: {ATTR: {dp_diff, dp_ratio, eo_diff, disparate_impact, four_fifths_pass, groups: {G: {...}}}}
  fairness_summary: {evaluated, attributes, dp_diff_max, eo_diff_max, disparate_impact_min}
  scan: {performed, safe, formats, findings: [{file, format, severity, global, detail}]}
  documentation: {completeness, present, missing}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from charter.evaluation.documentation import DocumentationReport, assess_documentation
from charter.evaluation.fairness import MIN_GROUP_SIZE, MIN_POSITIVES, AttributeFairness, compute_fairness
from charter.evaluation.metrics import PerformanceMetrics, compute_performance
from charter.evaluation.resampling import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, BootstrapResult, bootstrap_intervals
from charter.evaluation.scan import ScanResult, not_scanned
from charter.evaluation.tabular import Predictions


@dataclass(frozen=True)
class PredictionEvaluation:
    """Performance, fairness per attribute and bootstrap intervals of one evaluation set."""

    performance: PerformanceMetrics
    fairness: Mapping[str, AttributeFairness] = field(default_factory=dict)
    bootstrap: BootstrapResult | None = None


def evaluate_predictions(
    data: Predictions,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    min_group_size: int = MIN_GROUP_SIZE,
    min_positives: int = MIN_POSITIVES,
) -> PredictionEvaluation:
    """Compute metrics, fairness and (unless resamples == 0) bootstrap intervals for loaded predictions."""
    performance = compute_performance(data.y_true, data.y_pred, data.y_score)
    fairness = compute_fairness(
        data.y_true, data.y_pred, data.sensitive, min_group_size=min_group_size, min_positives=min_positives
    )
    ci = None
    if resamples:
        ci = bootstrap_intervals(
            data.y_true,
            data.y_pred,
            data.sensitive,
            resamples=resamples,
            confidence=confidence,
            seed=seed,
            min_group_size=min_group_size,
            min_positives=min_positives,
        )
    return PredictionEvaluation(performance=performance, fairness=fairness, bootstrap=ci)


def fairness_summary(fairness: Mapping[str, AttributeFairness]) -> dict[str, Any]:
    """Worst case over attributes; `evaluated` is true when some attribute had two groups with enough data."""
    scored = [a for a in fairness.values() if a.dp_diff is not None]
    eo = [a.eo_diff for a in scored if a.eo_diff is not None]
    di = [a.disparate_impact for a in scored if a.disparate_impact is not None]
    return {
        "evaluated": bool(scored),
        "attributes": list(fairness),
        "dp_diff_max": max((a.dp_diff for a in scored if a.dp_diff is not None), default=None),
        "eo_diff_max": max(eo, default=None),
        "disparate_impact_min": min(di, default=None),
    }


def build_evaluation_evidence(
    *,
    predictions: PredictionEvaluation | None = None,
    scan: ScanResult | None = None,
    documentation: DocumentationReport | None = None,
) -> dict[str, Any]:
    """The evidence sub-documents; parts not supplied get their "not evaluated" form (performance: null,
    fairness: {}, scan.performed: false, documentation: nothing present)."""
    performance: dict[str, Any] | None = None
    fairness: dict[str, Any] = {}
    if predictions is not None:
        performance = predictions.performance.to_dict()
        performance["ci"] = predictions.bootstrap.to_dict() if predictions.bootstrap else {}
        fairness = {name: attr.to_dict() for name, attr in predictions.fairness.items()}
    return {
        "performance": performance,
        "fairness": fairness,
        "fairness_summary": fairness_summary(predictions.fairness if predictions else {}),
        "scan": (scan or not_scanned()).to_dict(),
        "documentation": (documentation or assess_documentation(None)).to_dict(),
    }
