"""Continuous monitoring, pure computation: reference profiles, window sketches, drift/fairness metrics, conditions.

No database, HTTP or CLI here; services wire these functions to storage and license actions.
"""

from charter.monitoring.bins import GroupCounts
from charter.monitoring.conditions import (
    Condition,
    ConditionResult,
    Decision,
    check,
    evaluate,
    parse_condition,
    persistence,
    strongest,
)
from charter.monitoring.drift import DriftReport, DriftThresholds, FeatureDrift, drift_report
from charter.monitoring.grid import GridCounts
from charter.monitoring.metrics import (
    FairnessThresholds,
    WindowMetrics,
    metric_id,
    reference_fairness,
    window_metrics,
)
from charter.monitoring.profile import SCHEMA_VERSION, ProfileSpec, ReferenceProfile, build_profile
from charter.monitoring.sketch import WindowSketch, merge, sketch_rows

__all__ = [
    "SCHEMA_VERSION",
    "Condition",
    "ConditionResult",
    "Decision",
    "DriftReport",
    "DriftThresholds",
    "FairnessThresholds",
    "FeatureDrift",
    "GridCounts",
    "GroupCounts",
    "ProfileSpec",
    "ReferenceProfile",
    "WindowMetrics",
    "WindowSketch",
    "build_profile",
    "check",
    "drift_report",
    "evaluate",
    "merge",
    "metric_id",
    "parse_condition",
    "persistence",
    "reference_fairness",
    "sketch_rows",
    "strongest",
    "window_metrics",
]
