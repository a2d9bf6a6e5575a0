"""Pre-deployment evaluation: performance, fairness, bootstrap intervals, artifact scan, documentation.

Pure computation (no database, HTTP or CLI); results are frozen dataclasses with `to_dict()` evidence forms.
"""

from charter.evaluation.documentation import (
    REQUIRED_FIELDS,
    DocumentationReport,
    assess_documentation,
    card_fields,
    parse_model_card,
)
from charter.evaluation.evidence import (
    PredictionEvaluation,
    build_evaluation_evidence,
    evaluate_predictions,
    fairness_summary,
)
from charter.evaluation.fairness import (
    AttributeFairness,
    GroupColumn,
    GroupMetrics,
    attribute_fairness,
    compute_fairness,
    encode_groups,
)
from charter.evaluation.metrics import (
    PerformanceMetrics,
    compute_performance,
    expected_calibration_error,
    roc_auc,
)
from charter.evaluation.resampling import BootstrapResult, bootstrap_intervals
from charter.evaluation.scan import Finding, ScanLimits, ScanResult, not_scanned, scan_bytes, scan_path
from charter.evaluation.scan_rules import Severity, classify_global
from charter.evaluation.tabular import Predictions, load_predictions, predictions_from_arrays

__all__ = [
    "REQUIRED_FIELDS",
    "AttributeFairness",
    "BootstrapResult",
    "DocumentationReport",
    "Finding",
    "GroupColumn",
    "GroupMetrics",
    "PerformanceMetrics",
    "PredictionEvaluation",
    "Predictions",
    "ScanLimits",
    "ScanResult",
    "Severity",
    "assess_documentation",
    "attribute_fairness",
    "bootstrap_intervals",
    "build_evaluation_evidence",
    "card_fields",
    "classify_global",
    "compute_fairness",
    "compute_performance",
    "encode_groups",
    "evaluate_predictions",
    "expected_calibration_error",
    "fairness_summary",
    "load_predictions",
    "not_scanned",
    "parse_model_card",
    "predictions_from_arrays",
    "roc_auc",
    "scan_bytes",
    "scan_path",
]
