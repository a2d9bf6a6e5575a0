from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.core.errors import InvalidInput
from charter.monitoring import ProfileSpec, ReferenceProfile, WindowSketch, build_profile, merge, sketch_rows
from charter.monitoring.grid import EdgeLocator

from .conftest import SPEC, make_table


def test_incremental_updates_equal_one_shot(profile: ReferenceProfile, current: pa.Table) -> None:
    whole = sketch_rows(profile, current)
    parts = WindowSketch.empty(profile)
    for batch in current.to_batches(max_chunksize=7_000):
        parts.update(batch)
    assert parts.to_dict() == whole.to_dict()
    assert whole.rows == current.num_rows


def test_counts_match_the_data(profile: ReferenceProfile, current: pa.Table) -> None:
    s = sketch_rows(profile, current)
    x = current.column("x").to_numpy()
    assert (
        s.numeric["x"].counts.tolist()
        == np.bincount(
            np.searchsorted(profile.numeric["x"].grid_edges, x, side="right"), minlength=profile.numeric["x"].cells
        ).tolist()
    )
    assert s.numeric["x"].min == x.min() and s.numeric["x"].max == x.max()
    labels = profile.categorical["c"].vocabulary.labels
    assert s.categorical["c"][labels.index("__unseen__")] == np.sum(current.column("c").to_numpy() == "new")
    assert s.labels is not None and s.labels.sum() == current.num_rows
    assert s.groups["g"].rows.sum() == current.num_rows


def test_merge_equals_sketch_of_concatenation(profile: ReferenceProfile, current: pa.Table) -> None:
    a, b = current.slice(0, 15_000), current.slice(15_000)
    assert merge(sketch_rows(profile, a), sketch_rows(profile, b)).to_dict() == sketch_rows(profile, current).to_dict()


def test_json_round_trip(profile: ReferenceProfile, current: pa.Table) -> None:
    s = sketch_rows(profile, current)
    text = json.dumps(s.to_dict(), allow_nan=False)
    again = WindowSketch.from_dict(json.loads(text), profile)
    assert again.to_dict() == s.to_dict()
    again.update(current.slice(0, 10))  # a loaded sketch keeps counting
    assert again.rows == s.rows + 10


def test_empty_sketch_serializes_without_nan(profile: ReferenceProfile) -> None:
    d = WindowSketch.empty(profile).to_dict()
    json.dumps(d, allow_nan=False)
    assert WindowSketch.from_dict(d, profile).to_dict() == d


def test_sketch_of_another_profile_is_refused(profile: ReferenceProfile, current: pa.Table) -> None:
    other = build_profile(make_table(5_000, seed=9), SPEC)
    s = sketch_rows(other, current)
    with pytest.raises(InvalidInput, match="different reference profile"):
        WindowSketch.from_dict(s.to_dict(), profile)
    with pytest.raises(InvalidInput):
        merge(s, sketch_rows(profile, current))


def test_reshaped_sketch_is_refused(profile: ReferenceProfile) -> None:
    d = WindowSketch.empty(profile).to_dict()
    d["categorical"]["c"] = d["categorical"]["c"][:-1]
    with pytest.raises(InvalidInput, match="do not match"):
        WindowSketch.from_dict(d, profile)


def test_failed_update_leaves_the_sketch_unchanged(profile: ReferenceProfile, current: pa.Table) -> None:
    s = sketch_rows(profile, current.slice(0, 100))
    before = s.to_dict()
    bad = current.slice(0, 50).set_column(current.schema.get_field_index("p"), "p", pa.array([3.0] * 50))
    with pytest.raises(InvalidInput, match="outside"):
        s.update(bad)
    assert s.to_dict() == before


def test_memory_is_fixed_by_the_profile(profile: ReferenceProfile, current: pa.Table) -> None:
    def nbytes(s: WindowSketch) -> int:
        grids = sum(g.counts.nbytes + g.lo.nbytes + g.hi.nbytes for g in s.numeric.values())
        return (
            grids + sum(c.nbytes for c in s.categorical.values()) + sum(g.confusion.nbytes for g in s.groups.values())
        )

    small, large = sketch_rows(profile, current.slice(0, 10)), sketch_rows(profile, current)
    assert nbytes(small) == nbytes(large) < 200_000


# --- merge algebra ----------------------------------------------------------------------------------------------

_PROFILE = build_profile(make_table(3_000, seed=5), SPEC)
_POOL = make_table(3_000, seed=6, shift=0.3, new_category=True)


@st.composite
def window(draw: st.DrawFn) -> WindowSketch:
    """A sketch of a random subset of rows, sometimes with missing values injected."""
    idx = draw(st.lists(st.integers(0, _POOL.num_rows - 1), max_size=60))
    table = _POOL.take(pa.array(idx, type=pa.int64()))
    if len(idx) > 0 and draw(st.booleans()):  # `idx and draw(...)` would infer draw's type from idx
        mask = pa.array([draw(st.booleans()) for _ in idx])
        x = pa.compute.if_else(mask, pa.scalar(None, pa.float64()), table.column("x"))
        table = table.set_column(0, "x", x)
    return sketch_rows(_PROFILE, table)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window(), window(), window())
def test_merge_is_associative_and_commutative(a: WindowSketch, b: WindowSketch, c: WindowSketch) -> None:
    assert merge(a, b).to_dict() == merge(b, a).to_dict()
    assert merge(merge(a, b), c).to_dict() == merge(a, merge(b, c)).to_dict()
    empty = WindowSketch.empty(_PROFILE)
    assert merge(a, empty).to_dict() == a.to_dict()


# --- bin lookup --------------------------------------------------------------------------------------------------

_EDGES = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300).map(
    lambda v: np.unique(np.asarray(v, dtype=np.float64))
)


@settings(max_examples=200, deadline=None)
@given(_EDGES, st.lists(st.floats(-2e6, 2e6, allow_nan=False), max_size=200), st.integers(0, 2**32 - 1))
def test_edge_locator_equals_searchsorted(edges: np.ndarray, extra: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), extra])
    values = np.concatenate([values, rng.uniform(edges[0] - 1, edges[-1] + 1, 500), [-np.inf, np.inf]])
    locator = EdgeLocator(edges)
    assert np.array_equal(locator(values), np.searchsorted(edges, values, side="right"))


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).normal(size=20_000),
        np.random.default_rng(1).exponential(size=20_000),
        np.random.default_rng(2).lognormal(0, 3, size=20_000),  # too skewed for the guide table: falls back
        np.repeat(np.arange(40.0), 50),
    ],
)
def test_edge_locator_on_quantile_grids(values: np.ndarray) -> None:
    prof = build_profile({"v": values}, ProfileSpec(numeric=("v",)))
    num = prof.numeric["v"]
    probe = np.random.default_rng(3).permutation(values)
    assert np.array_equal(num.assign(probe), np.searchsorted(num.grid_edges, probe, side="right"))


def test_dictionary_encoded_categories_count_like_plain_strings(profile: ReferenceProfile, current: pa.Table) -> None:
    encoded = current.set_column(
        current.schema.get_field_index("c"), "c", pa.chunked_array([c.dictionary_encode() for c in current["c"].chunks])
    )
    with_nulls = pa.array(["a", None, "new", "b"]).dictionary_encode()
    vocab = profile.categorical["c"].vocabulary
    assert vocab.assign(with_nulls).tolist() == vocab.assign(pa.array(["a", None, "new", "b"])).tolist()
    assert sketch_rows(profile, encoded).to_dict() == sketch_rows(profile, current).to_dict()
