"""The schema a window sketch from outside (an upload, an SDK) must satisfy before it is merged, checked on the raw
JSON document so nothing is coerced on the way: every count a whole number from 0 to 2^63 − 1 (not a float, not a
bool), every bin list the length the reference profile gives it, the same columns as the profile, and the counts
consistent with `rows` — per column, the binned rows plus the missing ones equal `rows`; per group, positive
decisions and labelled rows within the group's rows. A sketch that passes cannot lower any count of the window it is
merged into, and the window's total rows bound every count in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from charter.core.errors import ErrorCode, InvalidInput
from charter.monitoring.profile import ReferenceProfile

INT64_MAX = 2**63 - 1


def _invalid(where: str, why: str, code: str = ErrorCode.INVALID_SKETCH) -> InvalidInput:
    return InvalidInput(f"window sketch: {where}: {why}", code=code, field=f"sketch.{where}")


def count(value: Any, where: str) -> int:
    """A count: a JSON integer in [0, 2^63 − 1]."""
    if type(value) is not int:
        raise _invalid(where, f"a count must be a whole number, not {value!r:.40}")
    if value < 0:
        raise _invalid(where, f"a count cannot be negative ({value})")
    if value > INT64_MAX:
        raise _invalid(where, f"count {value} is larger than 2^63 - 1", code=ErrorCode.COUNT_OVERFLOW)
    return value


def _counts(values: Any, size: int, where: str) -> list[int]:
    if not isinstance(values, list):
        raise _invalid(where, "expected a list of counts")
    if len(values) != size:
        raise _invalid(where, f"{len(values)} bins, but the reference profile has {size}: re-sketch the window")
    return [count(v, f"{where}[{i}]") for i, v in enumerate(values)]


def _extremes(values: Any, size: int, where: str) -> None:
    if not isinstance(values, list) or len(values) != size:
        raise _invalid(where, f"expected {size} values (number or null)")
    for i, v in enumerate(values):
        if v is not None and (type(v) not in (int, float) or not math.isfinite(v)):
            raise _invalid(f"{where}[{i}]", f"expected a finite number or null, not {v!r:.40}")


def _same_keys(given: Any, expected: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    if not isinstance(given, Mapping):
        raise _invalid(where, "expected an object")
    if set(given) != set(expected):
        missing, extra = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
        raise _invalid(where, f"columns differ from the reference profile (missing {missing}, unexpected {extra})")
    return given


def _binned(total: int, rows: int, where: str) -> None:
    if total != rows:
        raise _invalid(where, f"counts {total} rows (missing included), but the sketch has rows = {rows}")


def _group(d: Any, size: int, where: str) -> int:
    """Validate one GroupCounts document; returns its total rows."""
    d = _same_keys(d, {"rows": 0, "predicted": 0, "confusion": 0}, where)
    rows = _counts(d["rows"], size, f"{where}.rows")
    predicted = _counts(d["predicted"], size, f"{where}.predicted")
    confusion = d["confusion"]
    if not isinstance(confusion, list) or len(confusion) != size:
        raise _invalid(f"{where}.confusion", f"expected {size} rows of [tn, fp, fn, tp]")
    for i, cells in enumerate(confusion):
        tn, fp, fn, tp = _counts(cells, 4, f"{where}.confusion[{i}]")
        if predicted[i] > rows[i] or tn + fp + fn + tp > rows[i] or fp + tp > predicted[i]:
            raise _invalid(f"{where}[{i}]", "positive decisions and labelled rows must lie within the group's rows")
    return sum(rows)


def validate_sketch_doc(doc: Any, profile: ReferenceProfile) -> None:
    """Raise InvalidInput (422: `invalid_sketch`, or `count_overflow`) unless `doc` is a valid sketch of `profile`."""
    from charter.monitoring.sketch import WindowSketch  # the empty sketch gives every expected shape

    expected = WindowSketch.empty(profile).to_dict()
    d = _same_keys(doc, expected, "sketch")
    rows = count(d["rows"], "rows")
    numeric = _same_keys(d["numeric"], expected["numeric"], "numeric")
    for name, grid in numeric.items():
        size = len(expected["numeric"][name]["counts"])
        where = f"numeric.{name}"
        grid = _same_keys(grid, expected["numeric"][name], where)
        cells = _counts(grid["counts"], size, f"{where}.counts")
        _extremes(grid["lo"], size, f"{where}.lo")
        _extremes(grid["hi"], size, f"{where}.hi")
        _binned(sum(cells) + count(grid["missing"], f"{where}.missing"), rows, where)
    categorical = _same_keys(d["categorical"], expected["categorical"], "categorical")
    for name, values in categorical.items():
        where = f"categorical.{name}"
        _binned(sum(_counts(values, len(expected["categorical"][name]), where)), rows, where)
    for key, missing_key in (("prediction", "prediction_missing"), ("labels", "label_missing")):
        missing = count(d[missing_key], missing_key)
        if expected[key] is None:
            if d[key] is not None:
                raise _invalid(key, "the reference profile has no such column: expected null")
            continue
        _binned(sum(_counts(d[key], len(expected[key]), key)) + missing, rows, key)
    if expected["overall"] is None:
        if d["overall"] is not None:
            raise _invalid("overall", "the reference profile makes no decisions: expected null")
        decided = None
    else:
        decided = _group(d["overall"], 1, "overall")
        if decided > rows:
            raise _invalid("overall.rows", f"{decided} rows with a decision, but the sketch has rows = {rows}")
    groups = _same_keys(d["groups"], expected["groups"], "groups")
    for name, group in groups.items():
        total = _group(group, len(expected["groups"][name]["rows"]), f"groups.{name}")
        if decided is not None and total != decided:
            raise _invalid(f"groups.{name}", f"counts {total} rows, but {decided} rows have a decision")


def total_rows(parts: Sequence[int]) -> int:
    """Sum of rows, refused past int64 (a merge that would overflow a count)."""
    total = sum(parts)
    if total > INT64_MAX:
        raise InvalidInput(
            f"window sketch: merging would count {total} rows, more than 2^63 - 1",
            code=ErrorCode.COUNT_OVERFLOW,
            field="sketch",
        )
    return total
