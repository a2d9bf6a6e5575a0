from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from charter.core.errors import InvalidInput
from charter.monitoring import ReferenceProfile, build_profile, sketch_rows
from charter.monitoring.ingest import BatchReader, LateLabels, SortedLabels, profile_file, sketch_file

from .conftest import SPEC


def write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=5_000)
    return path


@pytest.fixture
def window(current: pa.Table) -> pa.Table:
    return current.append_column("id", pa.array(np.arange(current.num_rows) * 7 + 3))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_streamed_file_equals_in_memory_sketch(
    profile: ReferenceProfile, window: pa.Table, tmp_path: Path, suffix: str
) -> None:
    path = write(window, tmp_path / f"w{suffix}")
    calls: list[tuple[int, int | None]] = []
    got = sketch_file(profile, path, batch_rows=4_096, progress=lambda done, total: calls.append((done, total)))
    assert got.to_dict() == sketch_rows(profile, window).to_dict()
    assert calls[-1][0] == window.num_rows
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) > 1
    assert calls[-1][1] == (window.num_rows if suffix == ".parquet" else None)


def test_batches_are_bounded(window: pa.Table, tmp_path: Path) -> None:
    path = write(window, tmp_path / "w.parquet")
    sizes = [b.num_rows for b in BatchReader(path, ["x", "c"], batch_rows=1_000)]
    assert max(sizes) <= 1_000 and sum(sizes) == window.num_rows


@pytest.mark.parametrize("window_suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("labels_suffix", [".parquet", ".csv"])
def test_late_labels_are_joined_by_record_id(
    profile: ReferenceProfile, window: pa.Table, tmp_path: Path, window_suffix: str, labels_suffix: str
) -> None:
    rng = np.random.default_rng(0)
    n = window.num_rows
    picked = rng.permutation(n)[: n // 3]
    labels = window.select(["id", "y"]).take(pa.array(picked)).rename_columns(["record", "outcome"])
    window_path = write(window.drop_columns(["y"]), tmp_path / f"w{window_suffix}")
    labels_path = write(labels, tmp_path / f"l{labels_suffix}")
    got = sketch_file(profile, window_path, labels=LateLabels(labels_path, "record", "outcome", "id"))
    y = np.full(n, np.nan)
    y[picked] = window.column("y").to_numpy()[picked]
    expected = sketch_rows(profile, window.set_column(window.schema.get_field_index("y"), "y", pa.array(y)))
    assert got.to_dict() == expected.to_dict()
    assert got.labels is not None and got.labels.sum() == n // 3 and got.label_missing == n - n // 3


def test_labels_for_unknown_ids_are_ignored(profile: ReferenceProfile, window: pa.Table, tmp_path: Path) -> None:
    labels = pa.table({"id": pa.array([-1, -2]), "y": pa.array([1, 0])})
    got = sketch_file(
        profile,
        write(window.drop_columns(["y"]), tmp_path / "w.parquet"),
        labels=LateLabels(write(labels, tmp_path / "l.parquet"), "id", "y"),
    )
    assert got.rows == window.num_rows and got.labels is not None and got.labels.sum() == 0


@pytest.mark.parametrize("ids", [[10, 17, 10], ["a", "b", "b"]])
def test_duplicate_label_ids_are_refused(
    profile: ReferenceProfile, window: pa.Table, tmp_path: Path, ids: list[object]
) -> None:
    labels = pa.table({"id": pa.array(ids), "y": pa.array([1, 0, 1])})
    with pytest.raises(InvalidInput, match=rf"l.parquet: id column 'id' repeats {ids[2]!r}"):
        sketch_file(
            profile,
            write(window.drop_columns(["y"]), tmp_path / "w.parquet"),
            labels=LateLabels(write(labels, tmp_path / "l.parquet"), "id", "y"),
        )


def test_string_record_ids_join_through_acero(profile: ReferenceProfile, window: pa.Table, tmp_path: Path) -> None:
    ids = pa.array([f"rec-{i}" for i in range(window.num_rows)])
    named = window.set_column(window.schema.get_field_index("id"), "id", ids)
    labels = named.select(["id", "y"]).slice(0, 1_000)
    got = sketch_file(
        profile,
        write(named.drop_columns(["y"]), tmp_path / "w.parquet"),
        labels=LateLabels(write(labels, tmp_path / "l.parquet"), "id", "y"),
    )
    assert got.labels is not None and got.labels.tolist() == np.bincount(labels.column("y"), minlength=2).tolist()


def test_sorted_labels_lookup() -> None:
    table = pa.table({"id": pa.array([30, 10, 20]), "__charter_label": pa.array([1.0, 0.0, None])})
    index = SortedLabels(table, "id")
    got = index.lookup(pa.array([10, 20, 30, 40, None, -5], type=pa.int64()))
    assert got.to_pylist() == [0.0, None, 1.0, None, None, None]
    empty = SortedLabels(table.slice(0, 0), "id")
    assert empty.lookup(pa.array([1])).to_pylist() == [None]


def test_missing_column_names_file_and_column(profile: ReferenceProfile, window: pa.Table, tmp_path: Path) -> None:
    for suffix in (".parquet", ".csv"):
        path = write(window.drop_columns(["e"]), tmp_path / f"w{suffix}")
        with pytest.raises(InvalidInput, match=rf"w\{suffix}: column 'e' is missing") as err:
            sketch_file(profile, path)
        assert err.value.field == "e"


def test_missing_label_id_column_names_the_labels_file(
    profile: ReferenceProfile, window: pa.Table, tmp_path: Path
) -> None:
    labels = write(pa.table({"rid": [1], "y": [1]}), tmp_path / "labels.csv")
    with pytest.raises(InvalidInput, match=r"labels.csv: column 'id' is missing"):
        sketch_file(profile, write(window, tmp_path / "w.parquet"), labels=LateLabels(labels, "id", "y"))


def test_wrong_parquet_type_names_file_and_column(profile: ReferenceProfile, window: pa.Table, tmp_path: Path) -> None:
    bad = window.set_column(0, "x", pa.array(["oops"] * window.num_rows))
    with pytest.raises(InvalidInput, match=r"w.parquet: column 'x' must be numeric, found string"):
        sketch_file(profile, write(bad, tmp_path / "w.parquet"))


def test_bad_csv_value_names_the_file(profile: ReferenceProfile, window: pa.Table, tmp_path: Path) -> None:
    bad = window.set_column(0, "x", pa.array(["oops"] * window.num_rows))
    with pytest.raises(InvalidInput, match=r"w.csv: .*column #0 \('x'\)"):
        sketch_file(profile, write(bad, tmp_path / "w.csv"))


def test_unreadable_inputs(profile: ReferenceProfile, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        sketch_file(profile, tmp_path / "absent.parquet")
    (tmp_path / "w.json").write_text("{}")
    with pytest.raises(InvalidInput, match="unknown file type"):
        sketch_file(profile, tmp_path / "w.json")
    (tmp_path / "w.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        sketch_file(profile, tmp_path / "w.parquet")


def test_profile_file_equals_in_memory_profile(reference: pa.Table, tmp_path: Path) -> None:
    for suffix in (".parquet", ".csv"):
        prof = profile_file(write(reference, tmp_path / f"r{suffix}"), SPEC)
        assert prof.fingerprint == build_profile(reference, SPEC).fingerprint
