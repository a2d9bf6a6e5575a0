"""Schema and row count of CSV / Parquet dataset files, read locally with pyarrow (streamed, bounded memory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from charter.core.errors import ErrorCode, InvalidInput

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class TableInfo:
    """Columns (name, type) and number of rows of a tabular file."""

    format: str
    columns: tuple[tuple[str, str], ...]
    rows: int

    def schema(self) -> list[dict[str, str]]:
        return [{"name": name, "type": typ} for name, typ in self.columns]


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def _columns(schema: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(f.name), str(f.type)) for f in schema)


def read_table_info(path: Path, field: str = "file") -> TableInfo | None:
    """TableInfo for a CSV or Parquet file, None for other files; malformed data raises InvalidInput."""
    kind = _kind(path)
    if kind is None or not path.is_file():
        return None
    try:
        if kind == "parquet":
            meta = pq.ParquetFile(path)
            return TableInfo("parquet", _columns(meta.schema_arrow), int(meta.metadata.num_rows))
        delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
        stream = pa.input_stream(str(path), compression="detect")
        reader = pacsv.open_csv(stream, parse_options=pacsv.ParseOptions(delimiter=delimiter))
        rows = 0
        try:
            for batch in reader:
                rows += batch.num_rows
            return TableInfo("csv", _columns(reader.schema), rows)
        finally:
            reader.close()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(
            f"{field}: cannot read {path} as {kind}: {message}", code=ErrorCode.MALFORMED_DATASET, field=field
        ) from None
