"""Column access and conversion shared by profiles, sketches and ingest: Arrow or NumPy in, NumPy out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from charter.core.errors import ErrorCode, InvalidInput

PredictionKind = Literal["binary", "probability", "numeric"]
ColumnData: TypeAlias = "pa.Table | pa.RecordBatch | Mapping[str, Any]"
Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


def ints(values: Any) -> Ints:
    return np.asarray(values, dtype=np.int64)


def floats(values: Any) -> Floats:
    return np.asarray(values, dtype=np.float64)


def column(data: ColumnData, name: str, *, source: str = "data") -> Any:
    """The named column of a table, record batch or mapping; InvalidInput naming source and column if absent."""
    if isinstance(data, pa.Table | pa.RecordBatch):
        if data.schema.get_field_index(name) >= 0:
            return data.column(name)
        names = list(data.schema.names)
    elif name in data:
        return data[name]
    else:
        names = list(data)
    shown = ", ".join(map(str, names[:20])) + (", …" if len(names) > 20 else "")
    raise InvalidInput(
        f"{source}: column '{name}' is missing (available: {shown}); add it or fix the profile spec",
        code=ErrorCode.MISSING_COLUMN,
        field=name,
    )


def row_count(data: ColumnData) -> int:
    """Number of rows; mappings must hold columns of equal length (or say `num_rows` themselves)."""
    if isinstance(data, pa.Table | pa.RecordBatch) or hasattr(data, "num_rows"):
        return int(data.num_rows)
    lengths = {name: len(col) for name, col in data.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"columns have different lengths: {lengths}", code=ErrorCode.RAGGED_COLUMNS)
    return next(iter(lengths.values()), 0)


def _wrong_type(name: str, source: str, want: str, found: object) -> InvalidInput:
    return InvalidInput(
        f"{source}: column '{name}' must be {want}, found {found}", code=ErrorCode.WRONG_COLUMN_TYPE, field=name
    )


def numeric_values(col: Any, name: str, *, source: str = "data") -> Floats:
    """Column as float64 with NaN for nulls and non-finite values."""
    if isinstance(col, pa.Array | pa.ChunkedArray):
        t = col.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)):
            raise _wrong_type(name, source, "numeric", t)
        cast_col = pc.cast(col, pa.float64())
        if isinstance(cast_col, pa.ChunkedArray):
            values = floats(cast_col.to_numpy())
        else:
            values = floats(cast_col.to_numpy(zero_copy_only=False))
    else:
        arr = np.asarray(col)
        if arr.dtype.kind not in "fiub":
            if arr.dtype.kind == "O":
                return numeric_values(pa.array(arr, from_pandas=True), name, source=source)
            raise _wrong_type(name, source, "numeric", arr.dtype)
        values = np.asarray(arr, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, np.nan)
    return values


def string_values(col: Any, name: str, *, source: str = "data") -> pa.Array | pa.ChunkedArray:
    """Column as Arrow strings (numbers and booleans cast with Arrow's rules, nulls kept).

    Dictionary-encoded string columns stay encoded, so categories are looked up once per dictionary, not per row.
    """
    if not isinstance(col, pa.Array | pa.ChunkedArray):
        try:
            col = pa.array(np.asarray(col), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise _wrong_type(name, source, "categorical (strings, numbers or booleans)", exc) from exc
    t = col.type
    if pa.types.is_string(t) or (pa.types.is_dictionary(t) and pa.types.is_string(t.value_type)):
        return col
    if pa.types.is_dictionary(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pc.cast(col, pa.string())
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        return pc.cast(col, pa.string())
    raise _wrong_type(name, source, "categorical (strings, numbers or booleans)", t)


def sorted_quantiles(sorted_values: Floats, q: Floats) -> Floats:
    """Quantiles of already sorted values, numpy's default 'linear' method."""
    n = sorted_values.size
    pos = q * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    a, b = sorted_values[lo], sorted_values[hi]
    return floats(a + (b - a) * frac)


def to_numpy(arr: pa.Array | pa.ChunkedArray) -> NDArray[Any]:
    """NumPy view/copy of an Arrow array or chunked array."""
    if isinstance(arr, pa.ChunkedArray):
        return np.asarray(arr.to_numpy())
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def prediction_values(col: Any, name: str, kind: PredictionKind, *, source: str = "data") -> Floats:
    """Predictions as float64 (NaN = missing), checked against their kind."""
    values = numeric_values(col, name, source=source)
    present = values[~np.isnan(values)]
    if kind == "binary" and not np.isin(present, (0.0, 1.0)).all():
        bad = present[~np.isin(present, (0.0, 1.0))][0]
        raise InvalidInput(f"{source}: binary prediction column '{name}' holds {bad}; expected 0/1", field=name)
    if kind == "probability" and present.size and (present.min() < 0.0 or present.max() > 1.0):
        raise InvalidInput(
            f"{source}: probability column '{name}' holds values outside [0, 1] "
            f"({present.min()}..{present.max()}); pass probabilities, not logits",
            field=name,
        )
    return values


def label_values(col: Any, name: str, *, source: str = "data") -> Floats:
    """Binary labels as float64 0/1 with NaN for rows not (yet) labelled."""
    values = numeric_values(col, name, source=source)
    present = values[~np.isnan(values)]
    if not np.isin(present, (0.0, 1.0)).all():
        bad = present[~np.isin(present, (0.0, 1.0))][0]
        raise InvalidInput(f"{source}: label column '{name}' holds {bad}; expected 0/1 or null", field=name)
    return values
