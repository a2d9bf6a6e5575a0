from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from charter.core.errors import InvalidInput
from charter.monitoring import SCHEMA_VERSION, ProfileSpec, ReferenceProfile, build_profile
from charter.monitoring.bins import MISSING, OTHER, UNSEEN

from .conftest import SPEC, columns


def test_numeric_edges_are_reference_quantiles(profile: ReferenceProfile, reference: pa.Table) -> None:
    x = reference.column("x").to_numpy()
    num = profile.numeric["x"]
    assert np.allclose(num.edges, np.quantile(x, np.arange(1, 10) / 10), rtol=0, atol=1e-12)
    assert np.allclose(num.grid_edges[2:-2], np.quantile(x, np.arange(1, 1000) / 1000), rtol=0, atol=1e-12)
    assert num.bin_counts.size == 10
    assert num.grid.counts.size == num.grid_edges.size + 1
    assert np.isin(num.edges, num.grid_edges).all()
    # Open-ended outer bins, left-closed cells: coarse counts equal a direct count.
    direct = np.bincount(np.searchsorted(num.edges, x, side="right"), minlength=10)
    assert num.bin_counts.tolist() == direct.tolist()
    assert num.grid.total == x.size and num.grid.missing == 0
    assert num.mean == pytest.approx(x.mean()) and num.std == pytest.approx(x.std())
    assert num.grid.min == x.min() and num.grid.max == x.max()


def test_duplicate_edges_are_removed_for_discrete_features(profile: ReferenceProfile, reference: pa.Table) -> None:
    k = profile.numeric["k"]
    assert k.edges.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert k.grid_edges.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    counts = np.bincount(reference.column("k").to_numpy(), minlength=5)
    assert k.bin_counts.tolist() == [0, *counts.tolist()]
    # Each cell holds a single value, so the cell extremes coincide.
    full = k.grid.counts > 0
    assert np.array_equal(k.grid.lo[full], k.grid.hi[full])


def test_missing_and_non_finite_values_are_counted_apart() -> None:
    x = np.array([1.0, np.nan, np.inf, 2.0, -np.inf, 3.0] * 300)
    prof = build_profile({"x": x}, ProfileSpec(numeric=("x",)))
    assert prof.numeric["x"].grid.missing == 900
    assert prof.numeric["x"].grid.total == 900
    assert prof.numeric["x"].mean == pytest.approx(2.0)


def test_all_missing_numeric_column_profiles_to_one_empty_bin() -> None:
    prof = build_profile({"x": np.full(10, np.nan)}, ProfileSpec(numeric=("x",)))
    assert prof.numeric["x"].grid.counts.tolist() == [0]
    assert prof.numeric["x"].grid.missing == 10
    assert ReferenceProfile.from_dict(json.loads(json.dumps(prof.to_dict()))).fingerprint == prof.fingerprint


def test_categorical_top_k_other_unseen_missing() -> None:
    values = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20 + ["d"] * 5 + [None] * 3, dtype=object)
    prof = build_profile({"c": values}, ProfileSpec(categorical=("c",), top_k=2))
    cat = prof.categorical["c"]
    assert cat.vocabulary.labels == ("a", "b", OTHER, UNSEEN, MISSING)
    assert cat.counts.tolist() == [50, 30, 25, 0, 3]
    assert cat.vocabulary.assign(pa.array(["a", "c", "zzz", None, "b"])).tolist() == [0, 2, 3, 4, 1]


def test_vocabulary_cap_turns_unseen_into_other() -> None:
    values = np.array([f"v{i}" for i in range(100)] * 2)
    prof = build_profile({"c": values}, ProfileSpec(categorical=("c",), top_k=5, max_vocabulary=10))
    vocab = prof.categorical["c"].vocabulary
    assert vocab.truncated and len(vocab.rest) == 10
    assert vocab.assign(pa.array(["never-seen"])).tolist() == [5]  # __other__, cannot tell unseen apart


def test_numeric_categories_are_matched_as_strings() -> None:
    prof = build_profile({"c": np.array([1, 2, 2, 3])}, ProfileSpec(categorical=("c",)))
    assert prof.categorical["c"].vocabulary.top == ("2", "1", "3")
    assert prof.categorical["c"].vocabulary.assign(pa.array([3, 4])).tolist() == [2, 4]


def test_prediction_labels_and_groups(profile: ReferenceProfile, reference: pa.Table) -> None:
    cols = columns(reference)
    pred = profile.prediction
    assert pred is not None and pred.kind == "probability"
    assert np.allclose(pred.edges, np.arange(1, 10) / 10)
    assert pred.counts.sum() == reference.num_rows
    assert profile.labels is not None and profile.labels.tolist() == np.bincount(cols["y"]).tolist()
    overall = profile.overall
    assert overall is not None
    decided = cols["p"] >= 0.5
    assert overall.predicted.tolist() == [decided.sum()]
    tn, fp, fn, tp = overall.confusion[0]
    assert tp == np.sum(decided & (cols["y"] == 1)) and tn == np.sum(~decided & (cols["y"] == 0))
    groups = profile.groups["g"]
    assert set(groups.vocabulary.top) == {"f", "m", "x"}
    assert groups.counts.rows.sum() == reference.num_rows


def test_binary_predictions_and_numeric_predictions() -> None:
    r = np.random.default_rng(0)
    binary = build_profile(
        {"p": r.integers(0, 2, 1000), "y": r.integers(0, 2, 1000)},
        ProfileSpec(prediction="p", prediction_kind="binary", label="y"),
    )
    assert binary.prediction is not None and binary.prediction.edges.tolist() == [0.5]
    assert binary.prediction.counts.sum() == 1000
    numeric = build_profile({"p": r.normal(size=1000)}, ProfileSpec(prediction="p", prediction_kind="numeric"))
    assert numeric.prediction is not None and numeric.prediction.edges.size == 9 and numeric.overall is None


def test_json_round_trip_keeps_everything(profile: ReferenceProfile) -> None:
    d = profile.to_dict()
    assert d["schema_version"] == SCHEMA_VERSION and d["model_version"] == "credit@1.0"
    again = ReferenceProfile.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert again.to_dict() == d
    assert again.fingerprint == profile.fingerprint


def test_fingerprint_depends_on_bins(reference: pa.Table) -> None:
    a = build_profile(reference, SPEC)
    b = build_profile(reference.slice(0, 10_000), SPEC)
    assert a.fingerprint != b.fingerprint
    assert build_profile(reference, SPEC).fingerprint == a.fingerprint


def test_unknown_schema_version_is_refused(profile: ReferenceProfile) -> None:
    with pytest.raises(InvalidInput, match="schema_version"):
        ReferenceProfile.from_dict({**profile.to_dict(), "schema_version": 99})


def test_tampered_profile_is_refused(profile: ReferenceProfile) -> None:
    d = profile.to_dict()
    d["numeric"][0]["edges"] = [0.0]
    with pytest.raises(InvalidInput):
        ReferenceProfile.from_dict(d)


def test_missing_column_names_source_and_column(reference: pa.Table) -> None:
    with pytest.raises(InvalidInput, match=r"reference data: column 'x' is missing") as err:
        build_profile(reference.drop_columns(["x"]), SPEC)
    assert err.value.field == "x"


def test_wrong_column_type_names_the_column(reference: pa.Table) -> None:
    bad = reference.set_column(0, "x", pa.array(["1"] * reference.num_rows))
    with pytest.raises(InvalidInput, match=r"column 'x' must be numeric, found string"):
        build_profile(bad, SPEC)


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        ("probability", [0.2, 1.7], "outside"),
        ("binary", [0.0, 0.3], "expected 0/1"),
    ],
)
def test_predictions_are_checked_against_their_kind(kind: str, values: list[float], message: str) -> None:
    spec = ProfileSpec(prediction="p", prediction_kind=kind)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=message):
        build_profile({"p": np.array(values)}, spec)


def test_labels_must_be_binary() -> None:
    with pytest.raises(InvalidInput, match="label column 'y'"):
        build_profile({"p": np.array([0.1, 0.9]), "y": np.array([0, 2])}, ProfileSpec(prediction="p", label="y"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bins": 10, "grid": 995},
        {"bins": 1},
        {"numeric": ("a",), "categorical": ("a",)},
        {"sensitive": ("g",)},
        {"prediction": "p", "threshold": 1.0},
    ],
)
def test_bad_specs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ProfileSpec(**kwargs)  # type: ignore[arg-type]


def test_spec_inference_from_schema(reference: pa.Table) -> None:
    spec = ProfileSpec.infer(reference, prediction="p", label="y", sensitive=["g"], exclude=["g"])
    assert spec.numeric == ("x", "e", "k") and spec.categorical == ("c",)
    assert ProfileSpec.from_dict(spec.to_dict()) == spec
