"""Read prediction files (CSV or Parquet) into NumPy columns with errors that name the file and column."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from charter.core.errors import InvalidInput
from charter.evaluation.fairness import GroupColumn

MISSING_GROUP = "(missing)"
_TRUE_WORDS = frozenset({"1", "true"})
_BINARY_WORDS = frozenset({"0", "1", "true", "false"})


@dataclass(frozen=True, eq=False)
class Predictions:
    """Labels, predictions, optional scores and sensitive attributes of one evaluation set (True = positive)."""

    source: str
    y_true: npt.NDArray[np.bool_]
    y_pred: npt.NDArray[np.bool_]
    y_score: npt.NDArray[np.float64] | None = None
    sensitive: Mapping[str, GroupColumn] = field(default_factory=dict)
    positive_label: str = "1"

    @property
    def n(self) -> int:
        return int(self.y_true.shape[0])


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in {".parquet", ".pq"}:
        return True
    if path.suffix.lower() in {".csv", ".tsv", ".txt", ".gz", ".bz2", ".zst"}:
        return False
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _where(row: int, csv: bool) -> str:
    return f"row {row + 1} (line {row + 2})" if csv else f"row {row + 1}"


def read_columns(
    path: str | Path, columns: Sequence[str], *, as_string: Sequence[str] = ()
) -> tuple[dict[str, Any], bool]:
    """Read only `columns` (pyarrow ChunkedArrays) from a CSV or Parquet file; returns (columns, is_csv)."""
    p = Path(path)
    name = p.name
    if not p.is_file():
        raise InvalidInput(f"{p}: file not found; pass the path of a CSV or Parquet predictions file")
    wanted = list(dict.fromkeys(columns))
    names: list[str] = []
    try:
        if _is_parquet(p):
            names = list(pq.read_schema(p).names)
            _require(name, wanted, names)
            table = pq.read_table(p, columns=wanted)
            csv = False
        else:
            delimiter = "\t" if ".tsv" in p.suffixes else ","
            parse = pa_csv.ParseOptions(delimiter=delimiter)
            with pa_csv.open_csv(p, parse_options=parse) as reader:
                names = list(reader.schema.names)
            _require(name, wanted, names)
            convert = pa_csv.ConvertOptions(include_columns=wanted, column_types={c: pa.string() for c in as_string})
            table = pa_csv.read_csv(p, parse_options=parse, convert_options=convert)
            csv = True
    except InvalidInput:
        raise
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{name}: the header is not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8 CSV "
            "or as Parquet",
            field="predictions",
            details={"file": name},
        ) from exc
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(name, names, exc) from exc
    return {c: table.column(c) for c in wanted}, csv


def _unreadable(name: str, names: Sequence[str], exc: Exception) -> InvalidInput:
    """The reader's error naming the file (never its path on this machine) and, where Arrow says which, the column."""
    found = re.search(r"CSV column #(\d+)", str(exc))
    column = names[int(found.group(1))] if found and int(found.group(1)) < len(names) else None
    if column is not None and "invalid UTF8" in str(exc):
        return InvalidInput(
            f"{name}: column '{column}' is not UTF-8 text; save the file as UTF-8 CSV or as Parquet",
            field=column,
            details={"file": name},
        )
    return InvalidInput(
        f"{name}: cannot be read as CSV or Parquet: {exc}", field=column or "predictions", details={"file": name}
    )


def _require(name: str, wanted: Sequence[str], names: Sequence[str]) -> None:
    for col in wanted:
        if col not in names:
            raise InvalidInput(
                f"{name}: column '{col}' not found; columns are: {', '.join(names) or '(none)'}",
                field=col,
                details={"file": name, "columns": list(names)},
            )
        if names.count(col) > 1:
            raise InvalidInput(
                f"{name}: column '{col}' appears more than once in the header; which one to evaluate is ambiguous, "
                "rename the others",
                field=col,
                details={"file": name, "columns": list(names)},
            )


def _first_null(col: Any) -> int | None:
    if col.null_count == 0:
        return None
    return int(pc.index(pc.is_null(col), True).as_py())


def _reject_nulls(col: Any, column: str, source: str, csv: bool) -> None:
    row = _first_null(col)
    if row is not None:
        raise InvalidInput(
            f"{source}: column '{column}' has no value in {_where(row, csv)} (empty, NA, null or nan); "
            "every row needs a value",
            field=column,
        )


def _distinct(col: Any) -> list[Any]:
    return sorted(pc.unique(col).to_pylist(), key=str)


def binary_column(
    col: Any, *, column: str, source: str, positive_label: object | None = None, csv: bool = False
) -> npt.NDArray[np.bool_]:
    """Encode a label/prediction column as booleans: 0/1, true/false, or two values with a named positive."""
    _reject_nulls(col, column, source, csv)
    typ = col.type
    if pa.types.is_boolean(typ):
        values_b = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.bool_)
        if positive_label is None or str(positive_label).strip().lower() in _TRUE_WORDS:
            return values_b
        if str(positive_label).strip().lower() in _BINARY_WORDS:
            return ~values_b
        raise InvalidInput(
            f"{source}: column '{column}' is true/false but positive_label is {positive_label!r}; use true or false",
            field="positive_label",
        )
    if pa.types.is_floating(typ):
        nan_row = pc.index(pc.is_nan(col), True).as_py()
        if nan_row >= 0:
            raise InvalidInput(f"{source}: column '{column}' is NaN in {_where(nan_row, csv)}", field=column)
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        values = np.asarray(col.to_numpy(), dtype=np.float64)
        distinct = [float(v) for v in np.unique(values)]
        if positive_label is None:
            if set(distinct) <= {0.0, 1.0}:
                return np.equal(values, 1.0)
            raise InvalidInput(
                f"{source}: column '{column}' has values {_show(_distinct(col))}; binary labels must be 0/1 or "
                "true/false, or pass positive_label to name the positive one of two values",
                field=column,
            )
        _check_two(distinct, column, source)
        try:
            target = float(str(positive_label))
        except ValueError:
            raise InvalidInput(
                f"{source}: positive_label {positive_label!r} is not a number but column '{column}' is numeric",
                field="positive_label",
            ) from None
        return np.equal(values, target)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ):
        text = pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
        distinct = _distinct(text)
        if positive_label is None:
            if {str(v).lower() for v in distinct} <= _BINARY_WORDS:
                return np.isin(np.asarray(pc.utf8_lower(text).to_numpy(zero_copy_only=False)), list(_TRUE_WORDS))
            raise InvalidInput(
                f"{source}: column '{column}' has values {_show(distinct)}; pass positive_label (one of them) "
                "to say which is the positive outcome",
                field=column,
            )
        _check_two(distinct, column, source)
        return np.asarray(pc.equal(text, str(positive_label).strip()).to_numpy(zero_copy_only=False), dtype=np.bool_)
    raise InvalidInput(f"{source}: column '{column}' has type {typ}; expected 0/1, true/false or text", field=column)


def _show(values: Sequence[Any], limit: int = 6) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}] ({len(values)} distinct)"


def _check_two(distinct: Sequence[Any], column: str, source: str) -> None:
    if len(distinct) > 2:
        raise InvalidInput(
            f"{source}: column '{column}' has {len(distinct)} distinct values {_show(distinct)}; "
            "only binary classification is supported",
            field=column,
        )


def score_column(col: Any, *, column: str, source: str, csv: bool = False) -> npt.NDArray[np.float64]:
    """Decode a numeric score column as float64, rejecting empty, NaN and non-numeric values."""
    _reject_nulls(col, column, source, csv)
    try:
        values = np.asarray(pc.cast(col, pa.float64()).to_numpy(), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"{source}: column '{column}' must be numeric: {exc}", field=column) from exc
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise InvalidInput(
            f"{source}: column '{column}' is {float(values[row])} in {_where(row, csv)}; scores must be finite",
            field=column,
        )
    return values


def group_column(col: Any) -> GroupColumn:
    """Encode a sensitive attribute as sorted string labels + codes; empty values form the '(missing)' group."""
    text = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    text = pc.utf8_trim_whitespace(pc.fill_null(text, MISSING_GROUP))
    text = pc.if_else(pc.equal(text, ""), MISSING_GROUP, text)
    labels = sorted(str(v) for v in pc.unique(text).to_pylist())
    codes = pc.index_in(text, value_set=pa.array(labels, type=pa.string()))
    return GroupColumn(labels=tuple(labels), codes=np.asarray(codes.to_numpy(), dtype=np.intp))


def _check_shared_values(y_true: Any, y_pred: Any, source: str, label: str, prediction: str) -> None:
    if not any(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in (y_true, y_pred)):
        return
    seen = {str(v).strip() for v in _distinct(y_true) + _distinct(y_pred) if v is not None}
    if len(seen) > 2:
        raise InvalidInput(
            f"{source}: columns '{label}' and '{prediction}' use {len(seen)} different values {sorted(seen)}; "
            "labels and predictions must share the same two values",
            field=prediction,
        )


def _check_positive_seen(
    y_true: npt.NDArray[np.bool_], y_pred: npt.NDArray[np.bool_], positive_label: object | None, source: str
) -> None:
    if positive_label is not None and not (y_true.any() or y_pred.any()):
        raise InvalidInput(
            f"{source}: positive_label {positive_label!r} occurs in neither labels nor predictions; check its spelling",
            field="positive_label",
        )


def load_predictions(
    path: str | Path,
    *,
    label: str = "y",
    prediction: str = "y_hat",
    score: str | None = None,
    sensitive: Sequence[str] = (),
    positive_label: object | None = None,
) -> Predictions:
    """Load labels, predictions, optional score and sensitive attributes from a CSV or Parquet file."""
    wanted = [label, prediction] + ([score] if score else []) + list(sensitive)
    cols, csv = read_columns(path, wanted, as_string=sensitive)
    source = Path(path).name
    if cols[label].length() == 0:
        raise InvalidInput(
            f"{source}: no data rows; a predictions file needs a header and at least one row", field="predictions"
        )
    _check_shared_values(cols[label], cols[prediction], source, label, prediction)
    y_true = binary_column(cols[label], column=label, source=source, positive_label=positive_label, csv=csv)
    y_pred = binary_column(cols[prediction], column=prediction, source=source, positive_label=positive_label, csv=csv)
    _check_positive_seen(y_true, y_pred, positive_label, source)
    y_score = score_column(cols[score], column=score, source=source, csv=csv) if score else None
    groups = {name: group_column(cols[name]) for name in sensitive}
    return Predictions(
        source=source,
        y_true=y_true,
        y_pred=y_pred,
        y_score=y_score,
        sensitive=groups,
        positive_label="1" if positive_label is None else str(positive_label),
    )


def predictions_from_arrays(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    y_score: npt.ArrayLike | None = None,
    sensitive: Mapping[str, npt.ArrayLike] | None = None,
    positive_label: object | None = None,
    source: str = "<arrays>",
) -> Predictions:
    """Build `Predictions` from in-memory arrays with the same validation as `load_predictions`."""
    try:
        t_col = pa.chunked_array([pa.array(np.asarray(y_true))])
        p_col = pa.chunked_array([pa.array(np.asarray(y_pred))])
        s_cols = {k: pa.chunked_array([pa.array(np.asarray(v))]) for k, v in (sensitive or {}).items()}
        sc_col = None if y_score is None else pa.chunked_array([pa.array(np.asarray(y_score))])
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise InvalidInput(f"{source}: arrays cannot be converted: {exc}") from exc
    n = t_col.length()
    lengths = {"y_true": n, "y_pred": p_col.length()}
    lengths.update({f"sensitive[{k}]": v.length() for k, v in s_cols.items()})
    if sc_col is not None:
        lengths["y_score"] = sc_col.length()
    if len(set(lengths.values())) != 1 or n == 0:
        raise InvalidInput(f"{source}: arrays must be non-empty and equally long; lengths are {lengths}")
    _check_shared_values(t_col, p_col, source, "y_true", "y_pred")
    true_b = binary_column(t_col, column="y_true", source=source, positive_label=positive_label)
    pred_b = binary_column(p_col, column="y_pred", source=source, positive_label=positive_label)
    _check_positive_seen(true_b, pred_b, positive_label, source)
    return Predictions(
        source=source,
        y_true=true_b,
        y_pred=pred_b,
        y_score=None if sc_col is None else score_column(sc_col, column="y_score", source=source),
        sensitive={k: group_column(v) for k, v in s_cols.items()},
        positive_label="1" if positive_label is None else str(positive_label),
    )
