"""Mergeable sketch of one production window: integer counts in the reference profile's bins.

A sketch is built incrementally (`update(chunk)`) and two sketches of the same profile merge by adding counts and
taking min/max, so `merge` is exactly associative and commutative and the sketch of a concatenation equals the merge
of the sketches. Memory is fixed by the profile (≈ 8 bytes × grid cells × numeric features), never by the row count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from charter.core.errors import ErrorCode, InvalidInput
from charter.monitoring.bins import GroupCounts, bincount
from charter.monitoring.columns import (
    ColumnData,
    Floats,
    Ints,
    column,
    ints,
    label_values,
    numeric_values,
    prediction_values,
    row_count,
    string_values,
)
from charter.monitoring.grid import GridCounts
from charter.monitoring.profile import ReferenceProfile


@dataclass(eq=False)
class WindowSketch:
    """Counts of one window against `profile`; only `profile.fingerprint` is serialized."""

    profile: ReferenceProfile = field(repr=False)
    rows: int = 0
    numeric: dict[str, GridCounts] = field(default_factory=dict)
    categorical: dict[str, Ints] = field(default_factory=dict)  # per vocabulary bucket, `__missing__` last
    prediction: Ints | None = None
    prediction_missing: int = 0
    labels: Ints | None = None  # [negatives, positives]
    label_missing: int = 0
    overall: GroupCounts | None = None
    groups: dict[str, GroupCounts] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return self.profile.fingerprint

    @classmethod
    def empty(cls, profile: ReferenceProfile) -> WindowSketch:
        """A sketch with zero counts in every bin of `profile`."""
        spec = profile.spec
        return cls(
            profile=profile,
            numeric={n: GridCounts.zeros(p.cells) for n, p in profile.numeric.items()},
            categorical={n: np.zeros(p.vocabulary.size, np.int64) for n, p in profile.categorical.items()},
            prediction=None if profile.prediction is None else np.zeros_like(profile.prediction.counts),
            labels=None if spec.label is None else np.zeros(2, np.int64),
            overall=GroupCounts.zeros(1) if spec.decisions else None,
            groups={n: GroupCounts.zeros(p.vocabulary.size) for n, p in profile.groups.items()},
        )

    def update(self, chunk: ColumnData, *, source: str = "window") -> None:
        """Count one chunk of rows (Arrow table/record batch or mapping of NumPy columns) into this sketch.

        All-or-nothing: the chunk is counted into a fresh sketch first, so a bad column leaves this one unchanged.
        """
        part = WindowSketch.empty(self.profile)
        part._count(chunk, source)
        merged = merge(self, part)
        for f in fields(self):
            setattr(self, f.name, getattr(merged, f.name))

    def _count(self, chunk: ColumnData, source: str) -> None:
        prof, spec = self.profile, self.profile.spec
        n = row_count(chunk)
        for name, layout in prof.numeric.items():
            values = numeric_values(column(chunk, name, source=source), name, source=source)
            self.numeric[name] = self.numeric[name] + layout.count(values)
        for name, cat in prof.categorical.items():
            strings = string_values(column(chunk, name, source=source), name, source=source)
            self.categorical[name] += np.bincount(cat.vocabulary.assign(strings), minlength=cat.vocabulary.size)
        decisions: Floats | None = None
        labels: Floats | None = None
        if prof.prediction is not None and spec.prediction is not None:
            col = column(chunk, spec.prediction, source=source)
            values = prediction_values(col, spec.prediction, spec.prediction_kind, source=source)
            counts, missing = bincount(prof.prediction.assign(values), prof.prediction.counts.size)
            self.prediction = counts if self.prediction is None else self.prediction + counts
            self.prediction_missing += missing
            decisions = prof.prediction.decide(values) if spec.decisions else None
        if spec.label is not None and self.labels is not None:
            labels = label_values(column(chunk, spec.label, source=source), spec.label, source=source)
            known = labels[~np.isnan(labels)]
            self.labels += np.bincount(known.astype(np.int64), minlength=2)
            self.label_missing += int(labels.size - known.size)
        if decisions is not None and self.overall is not None:
            self.overall += GroupCounts.count(np.zeros(n, np.int64), 1, decisions, labels)
            for name, group in prof.groups.items():
                strings = string_values(column(chunk, name, source=source), name, source=source)
                size = group.vocabulary.size
                self.groups[name] += GroupCounts.count(group.vocabulary.assign(strings), size, decisions, labels)
        self.rows += n

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "numeric": {n: s.to_dict() for n, s in self.numeric.items()},
            "categorical": {n: c.tolist() for n, c in self.categorical.items()},
            "prediction": None if self.prediction is None else self.prediction.tolist(),
            "prediction_missing": self.prediction_missing,
            "labels": None if self.labels is None else self.labels.tolist(),
            "label_missing": self.label_missing,
            "overall": None if self.overall is None else self.overall.to_dict(),
            "groups": {n: g.to_dict() for n, g in self.groups.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], profile: ReferenceProfile) -> WindowSketch:
        """Load a sketch made against `profile`; InvalidInput if it was made against other bins."""
        if d.get("fingerprint") != profile.fingerprint:
            raise InvalidInput(
                "window sketch was built against a different reference profile "
                f"({d.get('fingerprint')!r} ≠ {profile.fingerprint!r}); re-sketch the window",
                code=ErrorCode.PROFILE_MISMATCH,
                field="fingerprint",
            )
        try:
            sketch = cls(
                profile=profile,
                rows=int(d["rows"]),
                numeric={n: GridCounts.from_dict(s) for n, s in d["numeric"].items()},
                categorical={n: ints(c) for n, c in d["categorical"].items()},
                prediction=None if d["prediction"] is None else ints(d["prediction"]),
                prediction_missing=int(d["prediction_missing"]),
                labels=None if d["labels"] is None else ints(d["labels"]),
                label_missing=int(d["label_missing"]),
                overall=None if d["overall"] is None else GroupCounts.from_dict(d["overall"]),
                groups={n: GroupCounts.from_dict(g) for n, g in d["groups"].items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"window sketch is malformed: {exc!r}", code=ErrorCode.INVALID_SKETCH) from exc
        empty = cls.empty(profile)
        if _shapes(sketch) != _shapes(empty):
            raise InvalidInput("window sketch bins do not match the reference profile", code=ErrorCode.INVALID_SKETCH)
        return sketch


def _shapes(s: WindowSketch) -> dict[str, Any]:
    return {
        "numeric": {n: x.counts.shape for n, x in s.numeric.items()},
        "categorical": {n: c.shape for n, c in s.categorical.items()},
        "prediction": None if s.prediction is None else s.prediction.shape,
        "labels": None if s.labels is None else s.labels.shape,
        "overall": None if s.overall is None else s.overall.confusion.shape,
        "groups": {n: g.confusion.shape for n, g in s.groups.items()},
    }


def sketch_rows(profile: ReferenceProfile, data: ColumnData, *, source: str = "window") -> WindowSketch:
    """Sketch of one in-memory chunk of rows."""
    out = WindowSketch.empty(profile)
    out._count(data, source)
    return out


def merge(a: WindowSketch, b: WindowSketch) -> WindowSketch:
    """Sketch of the union of both windows (associative and commutative; inputs are not modified)."""
    if a.fingerprint != b.fingerprint:
        raise InvalidInput("cannot merge sketches of different reference profiles", code=ErrorCode.PROFILE_MISMATCH)

    def add(x: Ints | None, y: Ints | None) -> Ints | None:
        return None if x is None or y is None else x + y

    return WindowSketch(
        profile=a.profile,
        rows=a.rows + b.rows,
        numeric={n: g + b.numeric[n] for n, g in a.numeric.items()},
        categorical={n: c + b.categorical[n] for n, c in a.categorical.items()},
        prediction=add(a.prediction, b.prediction),
        prediction_missing=a.prediction_missing + b.prediction_missing,
        labels=add(a.labels, b.labels),
        label_missing=a.label_missing + b.label_missing,
        overall=None if a.overall is None or b.overall is None else a.overall + b.overall,
        groups={n: g + b.groups[n] for n, g in a.groups.items()},
    )
