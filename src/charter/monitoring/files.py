"""Client-side file work for `charter monitor`: the profile spec of a reference file, and a window file's sketch,
streamed (also when the file has no label column and no late labels: the window is then simply unlabelled)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from charter.core.errors import ErrorCode, InvalidInput
from charter.monitoring.columns import PredictionKind
from charter.monitoring.ingest import (
    BATCH_ROWS,
    BatchReader,
    LateLabels,
    Progress,
    file_format,
    profile_file,
    required_columns,
    sketch_file,
)
from charter.monitoring.profile import ProfileSpec, ReferenceProfile
from charter.monitoring.sketch import WindowSketch


def schema_of(path: Path) -> pa.Schema:
    """Column names and types of a Parquet file (its footer) or CSV file (types inferred from the first block)."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file", code=ErrorCode.FILE_NOT_FOUND, field="path")
    try:
        if file_format(path) == "parquet":
            return pq.ParquetFile(path).schema_arrow
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20)) as reader:
            return reader.schema
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path}: not a readable file ({exc})", code=ErrorCode.INVALID_FILE) from exc


def _check(path: Path, schema: pa.Schema, names: Sequence[str], what: str) -> None:
    for name in names:
        if name not in schema.names:
            shown = ", ".join(schema.names[:20])
            raise InvalidInput(f"{path}: {what} column '{name}' not found (columns: {shown})", field=name)


def spec_for(
    path: Path,
    *,
    prediction: str | None = None,
    prediction_kind: PredictionKind = "probability",
    label: str | None = None,
    sensitive: Sequence[str] = (),
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    **options: Any,
) -> ProfileSpec:
    """The profile spec of a reference file: the given feature columns, else every column but the prediction,
    label and excluded ones (numbers numeric; strings, booleans and dictionaries categorical)."""
    schema = schema_of(path)
    _check(path, schema, [c for c in (prediction, label) if c], "the")
    _check(path, schema, [*sensitive, *numeric, *categorical, *exclude], "the")
    if numeric or categorical:
        return ProfileSpec(
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            prediction=prediction,
            prediction_kind=prediction_kind,
            label=label,
            sensitive=tuple(sensitive),
            **options,
        )
    return ProfileSpec.infer(
        schema.empty_table(),
        prediction=prediction,
        prediction_kind=prediction_kind,
        label=label,
        sensitive=sensitive,
        exclude=exclude,
        **options,
    )


def reference_profile(path: Path, spec: ProfileSpec, *, model_version: str | None = None) -> ReferenceProfile:
    """Profile of a reference file (Parquet column by column; CSV whole, as quantiles need every value)."""
    return profile_file(path, spec, model_version=model_version)


def sketch_window(
    profile: ReferenceProfile,
    path: Path,
    *,
    labels: LateLabels | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> WindowSketch:
    """Sketch a window file in record batches (constant memory); a profile with a label column accepts a file
    without it when no late labels are given: the window is counted unlabelled."""
    label = profile.spec.label
    if labels is not None or label is None or label in schema_of(path).names:
        return sketch_file(profile, path, labels=labels, batch_rows=batch_rows, progress=progress)
    columns = [c for c in required_columns(profile.spec) if c != label]
    spec = profile.spec
    types: dict[str, pa.DataType] = {n: pa.string() for n in (*spec.categorical, *spec.sensitive)}
    types.update({n: pa.float64() for n in (*spec.numeric, *(c for c in (spec.prediction,) if c is not None))})
    source = BatchReader(path, columns, types=types, batch_rows=batch_rows)
    out = WindowSketch.empty(profile)
    done = 0
    for batch in _unlabelled(iter(source), label):
        out.update(batch, source=str(path))
        done += batch.num_rows
        if progress is not None:
            progress(done, source.total_rows)
    return out


def _unlabelled(batches: Iterator[pa.RecordBatch], label: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield batch.append_column(label, pa.nulls(batch.num_rows, pa.float64()))
