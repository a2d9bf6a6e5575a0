"""The evidence document has exactly the agreed keys and types, and is plain JSON."""

from __future__ import annotations

import json
import math
import pickle
from typing import Any

import numpy as np

from charter.evaluation import (
    assess_documentation,
    build_evaluation_evidence,
    evaluate_predictions,
    predictions_from_arrays,
    scan_bytes,
)
from charter.evaluation.evidence import fairness_summary
from charter.evaluation.tabular import Predictions

PERFORMANCE_KEYS = {"accuracy", "precision", "recall", "f1", "roc_auc", "calibration_error", "n", "ci"}
ATTR_KEYS = {"dp_diff", "dp_ratio", "eo_diff", "disparate_impact", "four_fifths_pass", "groups"}
GROUP_KEYS = {"n", "positives", "selection_rate", "tpr", "fpr", "accuracy", "insufficient_data"}


def _predictions(n: int = 4_000, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    g = rng.choice(np.array(["f", "m"]), n)
    age = rng.choice(np.array(["18-30", "31-50", "51+", "tiny"]), n, p=[0.4, 0.4, 0.19, 0.01])
    y = rng.random(n) < 0.5
    p = np.clip(0.3 * y + 0.7 * rng.random(n) - 0.1 * (g == "f"), 0, 1)
    return predictions_from_arrays(y, p >= 0.5, y_score=p, sensitive={"gender": g, "age": age})


def _all_floats(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [f for v in value.values() for f in _all_floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _all_floats(v)]
    return [value] if isinstance(value, float) else []


def test_full_evidence_shape() -> None:
    evaluation = evaluate_predictions(_predictions())
    card = {"intended_purpose": "credit scoring", "license": "apache-2.0"}
    evidence = build_evaluation_evidence(
        predictions=evaluation,
        scan=scan_bytes(pickle.dumps({"w": [1.0]}), "model.pkl"),
        documentation=assess_documentation(card),
    )
    assert set(evidence) == {"performance", "fairness", "fairness_summary", "scan", "documentation"}
    assert set(evidence["performance"]) == PERFORMANCE_KEYS
    assert set(evidence["performance"]["ci"]) >= {"accuracy", "f1", "dp_diff", "eo_diff"}
    assert all(len(v) == 2 and v[0] <= v[1] for v in evidence["performance"]["ci"].values())
    assert set(evidence["fairness"]) == {"gender", "age"}
    for attr in evidence["fairness"].values():
        assert set(attr) == ATTR_KEYS
        for group in attr["groups"].values():
            assert set(group) == GROUP_KEYS
    assert evidence["fairness"]["age"]["groups"]["tiny"]["insufficient_data"] is True
    summary = evidence["fairness_summary"]
    assert summary["evaluated"] is True and summary["attributes"] == ["gender", "age"]
    assert summary["dp_diff_max"] == max(evidence["fairness"][a]["dp_diff"] for a in ("gender", "age"))
    assert summary["disparate_impact_min"] == min(
        evidence["fairness"][a]["disparate_impact"] for a in ("gender", "age")
    )
    assert evidence["scan"]["performed"] and evidence["scan"]["safe"] and evidence["scan"]["formats"] == ["pickle"]
    assert evidence["documentation"]["present"] == ["intended_purpose", "license"]
    # Plain JSON: no numpy scalars, no NaN.
    text = json.dumps(evidence, allow_nan=False)
    assert json.loads(text) == evidence
    assert all(type(f) is float and math.isfinite(f) for f in _all_floats(evidence))
    assert type(evidence["performance"]["n"]) is int


def test_missing_parts_have_their_not_evaluated_form() -> None:
    evidence = build_evaluation_evidence()
    assert evidence["performance"] is None
    assert evidence["fairness"] == {}
    assert evidence["fairness_summary"] == {
        "evaluated": False,
        "attributes": [],
        "dp_diff_max": None,
        "eo_diff_max": None,
        "disparate_impact_min": None,
    }
    assert evidence["scan"] == {"performed": False, "safe": False, "formats": [], "findings": []}
    assert evidence["documentation"]["completeness"] == 0.0 and len(evidence["documentation"]["missing"]) == 15


def test_without_bootstrap_and_without_sufficient_groups() -> None:
    data = _predictions(n=150)
    evaluation = evaluate_predictions(data, resamples=0)
    evidence = build_evaluation_evidence(predictions=evaluation)
    assert evidence["performance"]["ci"] == {}
    # 150 rows split over groups: none reaches 100 rows with 30 positives in two groups.
    assert fairness_summary(evaluation.fairness)["evaluated"] is False
    assert evidence["fairness"]["gender"]["four_fifths_pass"] is None


def test_policy_engine_accepts_the_evidence() -> None:
    from charter.policies.evidence import type_problems

    evaluation = evaluate_predictions(_predictions())
    evidence = build_evaluation_evidence(
        predictions=evaluation,
        scan=scan_bytes(pickle.dumps(print), "m.pkl"),
        documentation=assess_documentation({}),
    )
    assert type_problems(evidence) == []
    assert type_problems(build_evaluation_evidence()) == []
