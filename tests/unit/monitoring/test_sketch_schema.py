"""Window sketches from outside are validated as a schema before they are merged: whole non-negative counts within
int64, bins of the reference profile's sizes, `rows` equal to the binned rows of every column (missing counted).
Property: for any sequence of valid contributions, merging in any order gives the same window, and no accepted
contribution lowers a count."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.core.errors import InvalidInput
from charter.monitoring import ReferenceProfile, build_profile, sketch_rows
from charter.monitoring.sketch import WindowSketch, merge
from charter.monitoring.sketch_schema import INT64_MAX, total_rows, validate_sketch_doc
from charter.monitoring.windows import check_span
from tests.unit.monitoring.conftest import SPEC, make_table

SMALL = make_table(600, seed=5)
PROFILE: ReferenceProfile = build_profile(make_table(2000, seed=4), SPEC, model_version="credit@1.0")


def _doc() -> dict[str, Any]:
    return sketch_rows(PROFILE, SMALL).to_dict()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = d
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value(node[int(last)]) if callable(value) else value
        else:
            node[last] = value(node[last]) if callable(value) else value

    return apply


FIRST_NUMERIC = next(iter(PROFILE.numeric))
FIRST_CATEGORICAL = next(iter(PROFILE.categorical))

BAD: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("negative count", _set(f"categorical/{FIRST_CATEGORICAL}/0", -5), "invalid_sketch"),
    ("fractional count", _set(f"categorical/{FIRST_CATEGORICAL}/0", lambda v: v + 0.5), "invalid_sketch"),
    ("float that looks whole", _set("rows", lambda v: float(v)), "invalid_sketch"),
    ("bool as a count", _set("label_missing", True), "invalid_sketch"),
    ("string count", _set("prediction_missing", "0"), "invalid_sketch"),
    ("rows disagree with the bins", _set("rows", lambda v: v + 1), "invalid_sketch"),
    ("a column's bins disagree with rows", _set(f"numeric/{FIRST_NUMERIC}/missing", lambda v: v + 3), "invalid_sketch"),
    ("count past int64", _set(f"categorical/{FIRST_CATEGORICAL}/0", 2**63), "count_overflow"),
    ("huge count", _set("rows", 10**40), "count_overflow"),
    ("bins of another size", _set(f"categorical/{FIRST_CATEGORICAL}", lambda v: [*v, 0]), "invalid_sketch"),
    ("missing column", lambda d: d["numeric"].pop(FIRST_NUMERIC), "invalid_sketch"),
    ("extra column", _set("numeric/zz", {"counts": [], "lo": [], "hi": [], "missing": 0}), "invalid_sketch"),
    ("infinite extreme", _set(f"numeric/{FIRST_NUMERIC}/lo/0", float("inf")), "invalid_sketch"),
    ("more positive decisions than rows", _set("overall/predicted/0", lambda v: 10**6), "invalid_sketch"),
    ("labelled rows beyond the group", _set("overall/confusion/0/0", lambda v: v + 10**6), "invalid_sketch"),
    ("groups disagree with decisions", _set("groups/g/rows/0", lambda v: v + 1), "invalid_sketch"),
]


def test_a_sketch_of_real_rows_is_valid() -> None:
    validate_sketch_doc(_doc(), PROFILE)


@pytest.mark.parametrize(("why", "mutate", "code"), BAD, ids=[b[0] for b in BAD])
def test_invalid_sketches_are_refused(why: str, mutate: Callable[[dict[str, Any]], None], code: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(InvalidInput) as err:
        validate_sketch_doc(doc, PROFILE)
    assert err.value.code == code, why
    assert err.value.field is not None and err.value.field.startswith("sketch")


def test_merges_past_int64_are_refused() -> None:
    assert total_rows([INT64_MAX - 1, 1]) == INT64_MAX
    with pytest.raises(InvalidInput) as err:
        total_rows([INT64_MAX, 1])
    assert err.value.code == "count_overflow"


def test_windows_lie_on_the_server_grid_and_not_in_the_future() -> None:
    now = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    day = datetime(2026, 12, 6, tzinfo=UTC)
    check_span(day, day + timedelta(days=1), 3600, now)
    check_span(datetime(2026, 12, 7, 15, tzinfo=UTC), datetime(2026, 12, 7, 15, tzinfo=UTC), 3600, now)
    for start, end, code in [
        (day + timedelta(minutes=7), day + timedelta(hours=1), "window_misaligned"),
        (day, day + timedelta(hours=1, seconds=1), "window_misaligned"),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC), "window_in_future"),
        (datetime(2026, 12, 7, 15, tzinfo=UTC), datetime(2026, 12, 7, 16, tzinfo=UTC), "window_in_future"),
    ]:
        with pytest.raises(InvalidInput) as err:
            check_span(start, end, 3600, now)
        assert err.value.code == code


def _counts(doc: Any, path: str = "") -> Iterator[tuple[str, int]]:
    """Every count of a sketch document with its path (extremes lo/hi are not counts)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k not in ("lo", "hi", "fingerprint"):
                yield from _counts(v, f"{path}/{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _counts(v, f"{path}/{i}")
    elif isinstance(doc, int) and not isinstance(doc, bool):
        yield path, doc


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 599), st.integers(0, 120)), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_merging_valid_contributions_in_any_order_gives_one_window_and_never_lowers_a_count(
    slices: list[tuple[int, int]], rng: Any
) -> None:
    parts = []
    for offset, length in slices:
        doc = sketch_rows(PROFILE, SMALL.slice(offset, length)).to_dict()
        validate_sketch_doc(copy.deepcopy(doc), PROFILE)  # every contribution is valid
        parts.append(WindowSketch.from_dict(doc, PROFILE))
    windows = []
    for _ in range(3):
        order = parts[:]
        rng.shuffle(order)
        window = WindowSketch.empty(PROFILE)
        for part in order:
            before = dict(_counts(window.to_dict()))
            window = merge(window, part)
            after = dict(_counts(window.to_dict()))
            assert all(after[k] >= v for k, v in before.items())  # no accepted input lowers a count
        validate_sketch_doc(window.to_dict(), PROFILE)  # the merged window satisfies the schema too
        windows.append(window.to_dict())
    assert windows[0] == windows[1] == windows[2]
    whole = reduce(merge, parts).to_dict()
    assert whole == windows[0]


def test_every_table_chunk_validates() -> None:
    table: pa.Table = make_table(300, seed=11, shift=0.5, new_category=True)
    validate_sketch_doc(sketch_rows(PROFILE, table).to_dict(), PROFILE)
