"""Streamed ingest of a Parquet or CSV window file into a sketch, optionally joined with late labels.

Memory is bounded by one record batch (default 65,536 rows × the profiled columns; a Parquet file is decoded one row
group at a time, so also by its row-group size) plus the sketch, never by the file length. Late labels come from a
second file keyed by a record id; rows without a label stay unlabelled. Only the labels file's id and label columns
are held in memory: with integer ids on both sides as two sorted NumPy arrays (12 bytes per label after a transient
≈ 40 bytes per label while sorting), each window batch looked up by binary search; with other id types (strings,
CSV files, whose ids are read as strings) the window streams through an Acero hash join whose build side costs
≈ 130 bytes per label (measured with 5M labels).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.acero as acero
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from charter.core.errors import ErrorCode, InvalidInput
from charter.monitoring.columns import numeric_values, to_numpy
from charter.monitoring.profile import ProfileSpec, ReferenceProfile, build_profile
from charter.monitoring.sketch import WindowSketch

Progress = Callable[[int, int | None], None]
FileFormat = Literal["parquet", "csv"]
BATCH_ROWS = 65_536
_LABEL = "__charter_label"
_NUMERIC = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal, pa.types.is_null)


@dataclass(frozen=True)
class LateLabels:
    """Labels delivered separately: `path` holds `id_column` and `label_column` (0/1, null = not labelled yet)."""

    path: Path
    id_column: str
    label_column: str
    window_id_column: str | None = None  # id column in the window file, if named differently


def file_format(path: Path) -> FileFormat:
    """Format from the file name: .parquet/.pq or .csv (optionally .gz/.bz2 compressed)."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".csv.bz2")):
        return "csv"
    raise InvalidInput(
        f"{path}: unknown file type; use .parquet or .csv", code=ErrorCode.UNSUPPORTED_FILE, field="path"
    )


def required_columns(spec: ProfileSpec) -> list[str]:
    """Columns a window file must provide for `spec` (features, prediction, label, sensitive attributes)."""
    names = [*spec.numeric, *spec.categorical, spec.prediction, spec.label, *spec.sensitive]
    return list(dict.fromkeys(n for n in names if n is not None))


def _missing(path: Path, name: str, available: Sequence[str]) -> InvalidInput:
    shown = ", ".join(list(available)[:20]) + (", …" if len(available) > 20 else "")
    return InvalidInput(
        f"{path}: column '{name}' is missing (available: {shown})", code=ErrorCode.MISSING_COLUMN, field=name
    )


def _types(spec: ProfileSpec, ids: Sequence[str]) -> dict[str, pa.DataType]:
    """Column types: fixed for CSV (per-block inference could disagree), checked for Parquet."""
    types: dict[str, pa.DataType] = {n: pa.string() for n in (*spec.categorical, *spec.sensitive, *ids)}
    numeric = [*spec.numeric, *(c for c in (spec.prediction, spec.label) if c is not None)]
    types.update({n: pa.float64() for n in numeric})
    return types


def _check_types(path: Path, schema: pa.Schema, types: dict[str, pa.DataType]) -> None:
    for name, want in types.items():
        if want != pa.float64() or name not in schema.names:
            continue
        t = schema.field(name).type
        if not any(check(t) for check in _NUMERIC):
            raise InvalidInput(
                f"{path}: column '{name}' must be numeric, found {t}", code=ErrorCode.WRONG_COLUMN_TYPE, field=name
            )


class BatchReader:
    """Record batches of selected columns from a Parquet or CSV file, with the total row count when known."""

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        *,
        types: dict[str, pa.DataType] | None = None,
        batch_rows: int = BATCH_ROWS,
        encode_categories: bool = True,
    ) -> None:
        self.path, self.columns, self.batch_rows = Path(path), list(dict.fromkeys(columns)), batch_rows
        self.encode_categories = encode_categories
        if not self.path.is_file():
            raise InvalidInput(f"{self.path}: no such file", code=ErrorCode.FILE_NOT_FOUND, field="path")
        self.format = file_format(self.path)
        self.total_rows: int | None = None
        if self.format == "parquet":
            try:
                self._parquet = pq.ParquetFile(self.path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise InvalidInput(
                    f"{self.path}: not a readable Parquet file ({exc})", code=ErrorCode.INVALID_FILE
                ) from exc
            names = self._parquet.schema_arrow.names
            self.total_rows = int(self._parquet.metadata.num_rows)
            schema = self._parquet.schema_arrow
            # Categories stay dictionary-encoded: each distinct value is looked up once per row group.
            categorical = {n for n, t in (types or {}).items() if t == pa.string() and n in self.columns}
            encoded = [f.name for f in schema if f.name in categorical and pa.types.is_string(f.type)]
            self._plain = self._parquet
            if encoded:
                self._parquet = pq.ParquetFile(self.path, read_dictionary=encoded)
        else:
            names = self._csv_header()
            schema = None
        self.names = list(names)
        for name in self.columns:
            if name not in names:
                raise _missing(self.path, name, names)
        self.types = {n: t for n, t in (types or {}).items() if n in self.columns}
        if schema is not None:
            _check_types(self.path, schema, self.types)

    def column_type(self, name: str) -> pa.DataType:
        """Arrow type the column will be read as (CSV: the fixed type, string when none was given)."""
        if self.format == "parquet":
            return self._plain.schema_arrow.field(name).type
        return self.types.get(name, pa.string())

    def _csv_header(self) -> list[str]:
        try:
            with pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=1 << 16)) as reader:
                return list(reader.schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"{self.path}: not a readable CSV file ({exc})", code=ErrorCode.INVALID_FILE) from exc

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":
            # One row group at a time: iter_batches over the whole file pre-buffers every row group (RSS ∝ file).
            file = self._parquet if self.encode_categories else self._plain
            for group in range(file.num_row_groups):
                yield from file.iter_batches(batch_size=self.batch_rows, columns=self.columns, row_groups=[group])
            return
        block = max(1 << 20, self.batch_rows * 16 * max(len(self.columns), 1))
        convert = pacsv.ConvertOptions(
            include_columns=self.columns,
            column_types=self.types,
            strings_can_be_null=True,
        )
        try:
            reader = pacsv.open_csv(
                self.path, read_options=pacsv.ReadOptions(block_size=block), convert_options=convert
            )
            with reader:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    yield batch
        except pa.ArrowInvalid as exc:
            raise self._csv_error(exc) from exc

    def _csv_error(self, exc: Exception) -> InvalidInput:
        """Arrow names CSV columns by index; add the name so the message says which column to fix."""
        message = re.sub(
            r"column #(\d+)",
            lambda m: (
                f"column #{m.group(1)} ('{self.names[int(m.group(1))]}')"
                if int(m.group(1)) < len(self.names)
                else m.group(0)
            ),
            str(exc),
        )
        return InvalidInput(f"{self.path}: {message}", code=ErrorCode.INVALID_FILE)

    def reader(self) -> pa.RecordBatchReader:
        """The batches as a RecordBatchReader (for Acero)."""
        first = iter(self)
        schema = self._plain.schema_arrow if self.format == "parquet" else None
        if schema is not None:
            schema = pa.schema([schema.field(n) for n in self.columns])
        else:
            head = next(first, None)
            if head is None:
                return pa.RecordBatchReader.from_batches(pa.schema([]), [])
            schema = head.schema

            def chained() -> Iterator[pa.RecordBatch]:
                yield head
                yield from first

            return pa.RecordBatchReader.from_batches(schema, chained())
        return pa.RecordBatchReader.from_batches(schema, first)


def _read_all(source: BatchReader) -> pa.Table:
    batches = list(source)
    if batches:
        return pa.Table.from_batches(batches)
    return pa.table({c: pa.array([], type=source.types.get(c, pa.string())) for c in source.columns})


def _load_labels(labels: LateLabels) -> pa.Table:
    """The labels file's id and label columns, label renamed, ids checked for duplicates."""
    types = {labels.id_column: pa.string(), labels.label_column: pa.float64()}
    src = BatchReader(labels.path, [labels.id_column, labels.label_column], types=types, encode_categories=False)
    table = _read_all(src).select([labels.id_column, labels.label_column])
    table = table.rename_columns([labels.id_column, _LABEL])
    ids = table.column(labels.id_column)
    if ids.null_count:
        raise InvalidInput(f"{labels.path}: id column '{labels.id_column}' has nulls", field=labels.id_column)
    dupe = _first_duplicate(ids)
    if dupe is not None:
        raise InvalidInput(
            f"{labels.path}: id column '{labels.id_column}' repeats {dupe!r}; give one label per record",
            code=ErrorCode.DUPLICATE_IDS,
            field=labels.id_column,
        )
    return table


def _first_duplicate(ids: pa.ChunkedArray) -> Any:
    """A repeated id, or None. Sort-based: Arrow's count_distinct needs ≈ 190 bytes per id (measured), a sort ≈ 16."""
    if pa.types.is_integer(ids.type):
        values = np.sort(ids.to_numpy())
        same = np.flatnonzero(values[1:] == values[:-1])
        return values[same[0]].item() if same.size else None
    ordered = ids.take(pc.sort_indices(ids))
    if len(ordered) < 2:
        return None
    equal = pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
    return ordered[pc.index(equal, True).as_py()].as_py() if pc.any(equal).as_py() else None


def _joined(source: BatchReader, labels: pa.Table, window_id: str, label_id: str) -> Iterator[pa.RecordBatch]:
    reader = source.reader()
    id_type = reader.schema.field(window_id).type
    if labels.schema.field(label_id).type != id_type:
        try:
            labels = labels.set_column(0, label_id, pc.cast(labels.column(label_id), id_type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(
                f"ids of {source.path} ('{window_id}', {id_type}) and of the labels file ('{label_id}') differ "
                f"in type and cannot be matched: {exc}",
                code=ErrorCode.WRONG_COLUMN_TYPE,
                field=label_id,
            ) from exc
    left_out = list(reader.schema.names)
    decl = acero.Declaration(
        "hashjoin",
        acero.HashJoinNodeOptions("left outer", [window_id], [label_id], left_output=left_out, right_output=[_LABEL]),
        inputs=[
            acero.Declaration("record_batch_reader_source", acero.RecordBatchReaderSourceNodeOptions(reader)),
            acero.Declaration("table_source", acero.TableSourceNodeOptions(labels)),
        ],
    )
    yield from decl.to_reader(use_threads=True)


class SortedLabels:
    """Integer record ids → labels as two sorted NumPy arrays (12 bytes per label), looked up by binary search."""

    def __init__(self, table: pa.Table, id_column: str) -> None:
        ids = np.asarray(table.column(id_column).to_numpy(), dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]
        labels = numeric_values(table.column(_LABEL), _LABEL)
        self.labels = labels[order].astype(np.float32)

    def lookup(self, ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Label of each id (null when the id has no label)."""
        wanted = np.asarray(to_numpy(pc.cast(pc.fill_null(ids, -(2**63)), pa.int64())), dtype=np.int64)
        if self.ids.size == 0:
            return pa.nulls(len(wanted), pa.float64())
        pos = np.minimum(np.searchsorted(self.ids, wanted), self.ids.size - 1)
        hit = (self.ids[pos] == wanted) & ~to_numpy(ids.is_null()).astype(bool)
        return pa.array(np.where(hit, self.labels[pos], np.nan), from_pandas=True)


def sketch_file(
    profile: ReferenceProfile,
    path: Path,
    *,
    labels: LateLabels | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> WindowSketch:
    """Sketch a window file in record batches; `progress(rows_done, total_rows or None)` after each batch."""
    spec = profile.spec
    path = Path(path)
    columns = required_columns(spec)
    window_id = None
    if labels is not None:
        if spec.label is None:
            raise InvalidInput("late labels need a profile built with a label column", field="label")
        window_id = labels.window_id_column or labels.id_column
        columns = [c for c in columns if c != spec.label] + [window_id]
    types = _types(spec, [window_id] if window_id else [])
    source = BatchReader(path, columns, types=types, batch_rows=batch_rows)
    out = WindowSketch.empty(profile)
    batches: Iterator[pa.RecordBatch] = iter(source)
    if labels is not None and window_id is not None and spec.label is not None:
        table = _load_labels(labels)
        if pa.types.is_integer(table.schema.field(0).type) and pa.types.is_integer(source.column_type(window_id)):
            batches = _with_labels(iter(source), SortedLabels(table, labels.id_column), window_id, spec.label)
        else:
            # Acero's join cannot unify per-batch dictionaries, so categories arrive decoded on this path.
            source.encode_categories = False
            batches = _renamed(_joined(source, table, window_id, labels.id_column), _LABEL, spec.label)
        del table
    done = 0
    for batch in batches:
        out.update(batch, source=str(path))
        done += batch.num_rows
        if progress is not None:
            progress(done, source.total_rows)
    return out


def _with_labels(
    batches: Iterator[pa.RecordBatch], index: SortedLabels, window_id: str, label: str
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield batch.append_column(label, index.lookup(batch.column(window_id)))


def _renamed(batches: Iterator[pa.RecordBatch], old: str, new: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        names = [new if n == old else n for n in batch.schema.names]
        yield pa.RecordBatch.from_arrays(batch.columns, names=names)


class _ParquetColumns(Mapping[str, Any]):
    """Columns of a Parquet file read one at a time on access, so profiling holds one column, not the table."""

    def __init__(self, source: BatchReader) -> None:
        self.source = source
        self.num_rows = source.total_rows

    def __getitem__(self, name: str) -> Any:
        if name not in self.source.columns:
            raise KeyError(name)
        return self.source._parquet.read(columns=[name]).column(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.source.columns)

    def __len__(self) -> int:
        return len(self.source.columns)


def profile_file(
    path: Path, spec: ProfileSpec, *, model_version: str | None = None, **options: Any
) -> ReferenceProfile:
    """Reference profile of a Parquet/CSV file: Parquet is read column by column, CSV whole (quantiles need all)."""
    source = BatchReader(Path(path), required_columns(spec), types=_types(spec, []), **options)
    data = _ParquetColumns(source) if source.format == "parquet" else _read_all(source)
    return build_profile(data, spec, model_version=model_version, source=str(path))
