"""Window metrics against Fairlearn and scikit-learn (exact), and the flat metric ids."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from charter.monitoring import (
    FairnessThresholds,
    ProfileSpec,
    ReferenceProfile,
    build_profile,
    metric_id,
    reference_fairness,
    sketch_rows,
    window_metrics,
)
from charter.monitoring.metrics import performance


def decisions(table: pa.Table) -> np.ndarray:
    p: np.ndarray = table.column("p").to_numpy()
    return (p >= 0.5).astype(int)


def test_performance_matches_sklearn(profile: ReferenceProfile, current: pa.Table) -> None:
    values = window_metrics(profile, sketch_rows(profile, current)).values
    y, yp = current.column("y").to_numpy(), decisions(current)
    assert values["perf.accuracy"] == pytest.approx(accuracy_score(y, yp), abs=1e-15)
    assert values["perf.f1"] == pytest.approx(f1_score(y, yp), abs=1e-15)
    assert values["perf.precision"] == pytest.approx(precision_score(y, yp), abs=1e-15)
    assert values["perf.recall"] == pytest.approx(recall_score(y, yp), abs=1e-15)
    assert values["window.labelled_rows"] == current.num_rows


def test_fairness_matches_fairlearn_exactly(profile: ReferenceProfile, current: pa.Table) -> None:
    values = window_metrics(profile, sketch_rows(profile, current)).values
    y, yp, g = current.column("y").to_numpy(), decisions(current), current.column("g").to_numpy()
    dp = demographic_parity_difference(y, yp, sensitive_features=g)
    eo = equalized_odds_difference(y, yp, sensitive_features=g)
    assert values["fairness.dp_diff[g]"] == pytest.approx(dp, abs=1e-15)
    assert values["fairness.eo_diff[g]"] == pytest.approx(eo, abs=1e-15)
    assert values["fairness.dp_diff"] == values["fairness.dp_diff[g]"]
    assert values["fairness.eo_diff"] == values["fairness.eo_diff[g]"]


def test_reference_fairness_matches_fairlearn(profile: ReferenceProfile, reference: pa.Table) -> None:
    f = reference_fairness(profile)["g"]
    y, yp, g = reference.column("y").to_numpy(), decisions(reference), reference.column("g").to_numpy()
    assert f.dp_diff == pytest.approx(demographic_parity_difference(y, yp, sensitive_features=g), abs=1e-15)
    assert f.eo_diff == pytest.approx(equalized_odds_difference(y, yp, sensitive_features=g), abs=1e-15)


def test_small_groups_are_flagged_and_left_out() -> None:
    r = np.random.default_rng(4)
    n = 5_000
    g = np.array(["big1"] * 2_400 + ["big2"] * 2_400 + ["few_rows"] * 60 + ["few_pos"] * 140, dtype=object)
    y = r.integers(0, 2, n)
    y[g == "few_pos"] = 0
    y[np.flatnonzero(g == "few_pos")[:10]] = 1  # 10 positives < 30
    p = r.random(n)
    p[g == "few_rows"] = 1.0  # would dominate DP if it were compared
    data = {"p": p, "y": y, "g": g}
    prof = build_profile(data, ProfileSpec(prediction="p", label="y", sensitive=("g",)))
    m = window_metrics(prof, sketch_rows(prof, data))
    fair = m.fairness["g"]
    assert set(fair.insufficient) == {"few_rows", "few_pos"}
    rates = {x.group: x for x in fair.groups}
    assert not rates["few_rows"].dp_sufficient and rates["few_pos"].dp_sufficient
    assert not rates["few_pos"].eo_sufficient
    keep = np.isin(g, ["big1", "big2", "few_pos"])
    yp = (p >= 0.5).astype(int)
    assert fair.dp_diff == pytest.approx(demographic_parity_difference(y[keep], yp[keep], sensitive_features=g[keep]))
    eo_keep = np.isin(g, ["big1", "big2"])
    assert fair.eo_diff == pytest.approx(
        equalized_odds_difference(y[eo_keep], yp[eo_keep], sensitive_features=g[eo_keep])
    )
    loose = window_metrics(prof, sketch_rows(prof, data), fairness_thresholds=FairnessThresholds(1, 1)).fairness["g"]
    assert loose.dp_diff == pytest.approx(demographic_parity_difference(y, yp, sensitive_features=g))


def test_fewer_than_two_sufficient_groups_gives_no_value() -> None:
    data = {"p": np.linspace(0, 1, 150), "y": np.arange(150) % 2, "g": np.array(["a"] * 120 + ["b"] * 30)}
    prof = build_profile(data, ProfileSpec(prediction="p", label="y", sensitive=("g",)))
    values = window_metrics(prof, sketch_rows(prof, data)).values
    assert values["fairness.dp_diff[g]"] is None and values["fairness.eo_diff"] is None


def test_unseen_groups_are_reported_not_compared(profile: ReferenceProfile, current: pa.Table) -> None:
    g = np.where(np.arange(current.num_rows) % 10 == 0, "unknown", current.column("g").to_numpy())
    window = current.set_column(current.schema.get_field_index("g"), "g", pa.array(g))
    fair = window_metrics(profile, sketch_rows(profile, window)).fairness["g"]
    pseudo = [x for x in fair.groups if x.pseudo]
    assert [x.group for x in pseudo] == ["__unseen__"] and pseudo[0].rows == current.num_rows // 10


def test_stable_metric_ids(profile: ReferenceProfile, current: pa.Table) -> None:
    values = window_metrics(profile, sketch_rows(profile, current)).values
    expected = {
        "window.rows",
        "window.labelled_rows",
        "drift.psi_max",
        "drift.ks_max",
        "drift.wasserstein_max",
        "drift.js_max",
        "drift.missing_rate_max",
        "drift.prediction_psi",
        "drift.prediction_js",
        "perf.accuracy",
        "perf.precision",
        "perf.recall",
        "perf.f1",
        "fairness.dp_diff",
        "fairness.eo_diff",
        "fairness.dp_diff[g]",
        "fairness.eo_diff[g]",
    }
    for f in ("x", "e", "k"):
        expected |= {f"drift.{s}[{f}]" for s in ("psi", "ks", "wasserstein", "missing_rate")}
    expected |= {f"drift.{s}[c]" for s in ("psi", "js", "chi2", "chi2_p", "missing_rate")}
    assert set(values) == expected
    assert values["drift.psi_max"] == max(values[f"drift.psi[{f}]"] for f in ("x", "e", "k", "c"))  # type: ignore[type-var]
    assert values["window.rows"] == current.num_rows
    assert metric_id("drift.psi", "age") == "drift.psi[age]"


def test_values_are_none_below_minimum_rows(profile: ReferenceProfile, current: pa.Table) -> None:
    values = window_metrics(profile, sketch_rows(profile, current.slice(0, 500))).values
    assert values["window.rows"] == 500
    assert values["drift.psi_max"] is None and values["drift.psi[x]"] is None and values["perf.accuracy"] is None
    assert values["drift.prediction_psi"] is None


def test_partial_labels_and_missing_values() -> None:
    r = np.random.default_rng(8)
    n = 4_000
    y = r.integers(0, 2, n).astype(float)
    y[: n // 2] = np.nan  # labels not arrived yet
    x = r.normal(size=n)
    x[:400] = np.nan
    data = {"x": x, "p": r.random(n), "y": y}
    prof = build_profile({**data, "y": r.integers(0, 2, n)}, ProfileSpec(numeric=("x",), prediction="p", label="y"))
    m = window_metrics(prof, sketch_rows(prof, data))
    assert m.values["window.labelled_rows"] == n // 2
    assert m.values["drift.missing_rate[x]"] == pytest.approx(0.1)
    yl, pl = y[n // 2 :].astype(int), (data["p"][n // 2 :] >= 0.5).astype(int)
    assert m.values["perf.accuracy"] == pytest.approx(accuracy_score(yl, pl))


def test_performance_edge_cases() -> None:
    assert performance(np.array([0, 0, 0, 0])).accuracy is None
    only_negatives = performance(np.array([10, 0, 0, 0]))
    assert only_negatives.accuracy == 1.0 and only_negatives.f1 == 0.0 and only_negatives.precision is None


def test_to_dict_is_json_ready(profile: ReferenceProfile, current: pa.Table) -> None:
    d = window_metrics(profile, sketch_rows(profile, current)).to_dict()
    assert json.loads(json.dumps(d, allow_nan=False))["values"]["window.rows"] == current.num_rows


def test_license_condition_vocabulary_matches_the_window_metrics(profile: ReferenceProfile, current: pa.Table) -> None:
    """Every metric id a window carries is one a license condition may name, and the other way round."""
    from charter.licenses import conditions as cond

    values = window_metrics(profile, sketch_rows(profile, current)).values
    names = {m.partition("[")[0] for m in values if "[" not in m}
    keyed = {m.partition("[")[0] for m in values if "[" in m}
    assert names == set(cond.PLAIN_METRICS)
    assert keyed == set(cond.FEATURE_METRICS) | set(cond.ATTRIBUTE_METRICS)
