"""Categorical, prediction and group bin layouts and the counting primitives shared with window sketches.

Categorical features and sensitive attributes keep their top-k values plus `__other__` (seen in the reference but
not in the top k), `__unseen__` (never seen in the reference) and `__missing__` buckets. Numeric grids are in `grid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.core.errors import InvalidInput
from charter.monitoring.columns import Floats, Ints, PredictionKind, floats, ints, sorted_quantiles, to_numpy

OTHER, UNSEEN, MISSING = "__other__", "__unseen__", "__missing__"
_ints, _floats = ints, floats


def num(value: float) -> float | None:
    """JSON-safe float: NaN becomes None."""
    return None if np.isnan(value) else float(value)


def from_num(value: float | None) -> float:
    """Inverse of `num`."""
    return float("nan") if value is None else float(value)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Top values (own buckets) and the rest of the reference values (bucket `__other__`)."""

    top: tuple[str, ...]
    rest: tuple[str, ...]
    truncated: bool  # rest was cut at max_vocabulary: unknown values then count as `__other__`, not `__unseen__`

    @property
    def labels(self) -> tuple[str, ...]:
        return (*self.top, OTHER, UNSEEN, MISSING)

    @property
    def size(self) -> int:
        return len(self.top) + 3

    @cached_property
    def _value_set(self) -> pa.Array:
        return pa.array([*self.top, *self.rest], type=pa.string())

    def assign(self, strings: pa.Array | pa.ChunkedArray) -> Ints:
        """Bucket of each value: top index, then other, unseen, missing."""
        if pa.types.is_dictionary(strings.type):
            chunks = strings.chunks if isinstance(strings, pa.ChunkedArray) else [strings]
            parts = [self._assign_encoded(c) for c in chunks]
            return _ints(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        return self._assign_plain(strings)

    def _assign_encoded(self, arr: pa.DictionaryArray) -> Ints:
        """Look up each dictionary entry once, then gather by index."""
        table = np.append(self._assign_plain(arr.dictionary), len(self.top) + 2)  # last slot: null index
        idx = _ints(to_numpy(pc.fill_null(arr.indices, -1)))
        return _ints(table[idx])

    def _assign_plain(self, strings: pa.Array | pa.ChunkedArray) -> Ints:
        k = len(self.top)
        found = pc.index_in(strings, value_set=self._value_set)
        idx = _ints(to_numpy(pc.fill_null(found, -1)))
        buckets = np.where(idx >= k, k, idx)
        buckets[idx < 0] = k if self.truncated else k + 1
        if strings.null_count:
            buckets[to_numpy(strings.is_null())] = k + 2
        return buckets

    def to_dict(self) -> dict[str, Any]:
        return {"top": list(self.top), "rest": list(self.rest), "truncated": self.truncated}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Vocabulary:
        return cls(tuple(d["top"]), tuple(d["rest"]), bool(d["truncated"]))

    @classmethod
    def build(cls, strings: pa.Array | pa.ChunkedArray, top_k: int, max_rest: int) -> Vocabulary:
        if pa.types.is_dictionary(strings.type):
            strings = pc.cast(strings, pa.string())
        vc = pc.value_counts(strings.drop_null())
        values, counts = vc.field("values").to_pylist(), vc.field("counts").to_pylist()
        ranked = [v for _, v in sorted(zip(counts, values, strict=True), key=lambda cv: (-cv[0], cv[1]))]
        rest = ranked[top_k:]
        return cls(tuple(ranked[:top_k]), tuple(rest[:max_rest]), len(rest) > max_rest)


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    name: str
    vocabulary: Vocabulary
    counts: Ints  # per vocabulary bucket, `__missing__` last

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "vocabulary": self.vocabulary.to_dict(), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CategoricalProfile:
        return cls(d["name"], Vocabulary.from_dict(d["vocabulary"]), _ints(d["counts"]))


def prediction_edges(kind: PredictionKind, values: Floats, bins: int) -> Floats:
    """Bin edges for predictions: 0.5 for binary, equal-width on [0, 1] for probabilities, quantiles for numeric."""
    if kind == "binary":
        return _floats([0.5])
    if kind == "probability":
        return _floats(np.arange(1, bins) / bins)
    finite = np.sort(values[~np.isnan(values)])
    if finite.size == 0:
        return np.empty(0, dtype=np.float64)
    return np.unique(sorted_quantiles(finite, np.arange(1, bins, dtype=np.float64) / bins))


@dataclass(frozen=True, eq=False)
class PredictionProfile:
    kind: PredictionKind
    edges: Floats
    counts: Ints
    missing: int
    threshold: float

    def assign(self, values: Floats) -> Ints:
        """Bin of each prediction; -1 for missing."""
        cells = np.searchsorted(self.edges, values, side="right").astype(np.int64)
        cells[np.isnan(values)] = -1
        return cells

    def decide(self, values: Floats) -> Floats:
        """Yes/no decision per prediction (1.0/0.0), NaN where the prediction is missing or numeric."""
        if self.kind == "numeric":
            return np.full(values.shape, np.nan)
        cut = 0.5 if self.kind == "binary" else self.threshold
        return np.where(np.isnan(values), np.nan, (values >= cut).astype(np.float64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "missing": self.missing,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PredictionProfile:
        kind = cast(PredictionKind, d["kind"])
        return cls(kind, _floats(d["edges"]), _ints(d["counts"]), int(d["missing"]), float(d["threshold"]))


def bincount(cells: Ints, size: int) -> tuple[Ints, int]:
    """Counts per cell (cells ≥ 0) and the number of -1 (missing) entries."""
    missing = int(np.count_nonzero(cells < 0))
    if missing:
        cells = cells[cells >= 0]
    return _ints(np.bincount(cells, minlength=size)), missing


@dataclass(eq=False)
class GroupCounts:
    """Per group: rows with a decision, positive decisions, and tn/fp/fn/tp over the labelled ones."""

    rows: Ints
    predicted: Ints
    confusion: Ints  # shape (groups, 4): tn, fp, fn, tp

    @classmethod
    def zeros(cls, n: int) -> GroupCounts:
        return cls(np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros((n, 4), np.int64))

    @classmethod
    def count(cls, groups: Ints, n: int, decisions: Floats, labels: Floats | None) -> GroupCounts:
        """Count rows by group bucket; rows without a decision are skipped, rows without a label are unlabelled."""
        has = ~np.isnan(decisions)
        g, d = groups[has], decisions[has].astype(np.int64)
        rows = np.bincount(g, minlength=n)
        predicted = np.bincount(g[d == 1], minlength=n)
        if labels is None:
            return cls(_ints(rows), _ints(predicted), np.zeros((n, 4), np.int64))
        lab = labels[has]
        known = ~np.isnan(lab)
        code = g[known] * 4 + lab[known].astype(np.int64) * 2 + d[known]
        confusion = np.bincount(code, minlength=4 * n).reshape(n, 4)
        return cls(_ints(rows), _ints(predicted), _ints(confusion))

    def __add__(self, other: GroupCounts) -> GroupCounts:
        if self.rows.shape != other.rows.shape:
            raise InvalidInput(f"group counts of different sizes: {self.rows.size} vs {other.rows.size}")
        return GroupCounts(self.rows + other.rows, self.predicted + other.predicted, self.confusion + other.confusion)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupCounts):
            return NotImplemented
        return all(
            np.array_equal(a, b)
            for a, b in ((self.rows, other.rows), (self.predicted, other.predicted), (self.confusion, other.confusion))
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def labelled(self) -> Ints:
        return _ints(self.confusion.sum(axis=1))

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows.tolist(), "predicted": self.predicted.tolist(), "confusion": self.confusion.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupCounts:
        n = len(d["rows"])
        return cls(_ints(d["rows"]), _ints(d["predicted"]), _ints(d["confusion"]).reshape(n, 4))
