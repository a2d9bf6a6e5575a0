"""Reference profile of one model version: bin layouts plus the reference data counted into them.

Built from in-memory reference data (a pyarrow table/record batch or a mapping of NumPy columns); numeric quantiles
need the whole column, so a reference larger than memory should be sampled first. See `bins` for the layout rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from charter.core.canonical import canonical_json
from charter.core.errors import ErrorCode, InvalidInput
from charter.core.hashing import sha256_hex
from charter.monitoring.bins import (
    CategoricalProfile,
    GroupCounts,
    PredictionProfile,
    Vocabulary,
    bincount,
    prediction_edges,
)
from charter.monitoring.columns import (
    ColumnData,
    Floats,
    Ints,
    PredictionKind,
    column,
    ints,
    label_values,
    numeric_values,
    prediction_values,
    row_count,
    string_values,
)
from charter.monitoring.grid import NumericProfile

SCHEMA_VERSION = 1
PREDICTION_KINDS: tuple[PredictionKind, ...] = ("binary", "probability", "numeric")


@dataclass(frozen=True)
class ProfileSpec:
    """Which columns to profile and how finely."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    prediction: str | None = None
    prediction_kind: PredictionKind = "probability"
    label: str | None = None
    sensitive: tuple[str, ...] = ()
    bins: int = 10
    grid: int = 1000
    top_k: int = 20
    max_groups: int = 50
    max_vocabulary: int = 1000
    threshold: float = 0.5

    def __post_init__(self) -> None:
        for attr in ("numeric", "categorical", "sensitive"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        if self.bins < 2 or self.grid < self.bins or self.grid % self.bins:
            raise InvalidInput(f"bins={self.bins}, grid={self.grid}: need bins ≥ 2 and grid a multiple of bins")
        if self.top_k < 1 or self.max_groups < 1 or self.max_vocabulary < 0:
            raise InvalidInput("top_k and max_groups must be ≥ 1, max_vocabulary ≥ 0")
        if self.prediction_kind not in PREDICTION_KINDS:
            raise InvalidInput(f"prediction_kind must be one of {PREDICTION_KINDS}", field="prediction_kind")
        if not 0.0 < self.threshold < 1.0:
            raise InvalidInput("threshold must lie strictly between 0 and 1", field="threshold")
        features = [*self.numeric, *self.categorical]
        dupes = sorted({f for f in features if features.count(f) > 1})
        if dupes:
            raise InvalidInput(f"columns listed twice among features: {dupes}", field="numeric")
        if self.sensitive and (self.prediction is None or self.prediction_kind == "numeric"):
            raise InvalidInput("sensitive attributes need a binary or probability prediction column", field="sensitive")
        if self.label is not None and self.prediction_kind == "numeric":
            raise InvalidInput("labels are supported for binary/probability predictions only", field="label")

    @property
    def decisions(self) -> bool:
        """Whether predictions yield yes/no decisions (needed for accuracy and fairness)."""
        return self.prediction is not None and self.prediction_kind != "numeric"

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "prediction": self.prediction,
            "prediction_kind": self.prediction_kind,
            "label": self.label,
            "sensitive": list(self.sensitive),
            "bins": self.bins,
            "grid": self.grid,
            "top_k": self.top_k,
            "max_groups": self.max_groups,
            "max_vocabulary": self.max_vocabulary,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProfileSpec:
        return cls(**{**d, **{k: tuple(d[k]) for k in ("numeric", "categorical", "sensitive") if k in d}})

    @classmethod
    def infer(
        cls,
        data: pa.Table | pa.RecordBatch,
        *,
        prediction: str | None = None,
        prediction_kind: PredictionKind = "probability",
        label: str | None = None,
        sensitive: Sequence[str] = (),
        exclude: Sequence[str] = (),
        **options: Any,
    ) -> ProfileSpec:
        """Spec from an Arrow schema: integer/float columns numeric, strings/booleans/dictionaries categorical."""
        skip = {prediction, label, *exclude}
        numeric, categorical = [], []
        for f in data.schema:
            if f.name in skip:
                continue
            t = f.type
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
                numeric.append(f.name)
            elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t):
                categorical.append(f.name)
            elif pa.types.is_dictionary(t):
                categorical.append(f.name)
        return cls(
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            prediction=prediction,
            prediction_kind=prediction_kind,
            label=label,
            sensitive=tuple(sensitive),
            **options,
        )


@dataclass(frozen=True, eq=False)
class GroupProfile:
    """Group vocabulary of one sensitive attribute and the reference rates per group."""

    name: str
    vocabulary: Vocabulary
    counts: GroupCounts

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "vocabulary": self.vocabulary.to_dict(), "counts": self.counts.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupProfile:
        return cls(d["name"], Vocabulary.from_dict(d["vocabulary"]), GroupCounts.from_dict(d["counts"]))


def _digest(edges: Floats) -> str:
    """sha256 of the edges as little-endian float64 bytes (exact, and far faster than JSON for 1,000 floats)."""
    return sha256_hex(np.ascontiguousarray(edges, dtype="<f8").tobytes())


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Everything a window is compared against; JSON round-trips through `to_dict`/`from_dict`."""

    spec: ProfileSpec
    rows: int
    numeric: Mapping[str, NumericProfile]
    categorical: Mapping[str, CategoricalProfile]
    prediction: PredictionProfile | None
    labels: Ints | None  # [negatives, positives]
    label_missing: int
    overall: GroupCounts | None  # decisions and confusion over the whole reference (one group)
    groups: Mapping[str, GroupProfile]
    model_version: str | None = None

    def layout(self) -> dict[str, Any]:
        """The parts that decide which bin a value falls into (what sketches must agree on)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "spec": self.spec.to_dict(),
            "numeric": {n: [_digest(p.edges), _digest(p.grid_edges)] for n, p in self.numeric.items()},
            "categorical": {n: p.vocabulary.to_dict() for n, p in self.categorical.items()},
            "prediction": None if self.prediction is None else _digest(self.prediction.edges),
            "groups": {n: p.vocabulary.to_dict() for n, p in self.groups.items()},
        }

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON layout; sketches carry it so only compatible counts are merged."""
        return sha256_hex(canonical_json(self.layout()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "model_version": self.model_version,
            "fingerprint": self.fingerprint,
            "spec": self.spec.to_dict(),
            "rows": self.rows,
            "numeric": [p.to_dict() for p in self.numeric.values()],
            "categorical": [p.to_dict() for p in self.categorical.values()],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "labels": None if self.labels is None else self.labels.tolist(),
            "label_missing": self.label_missing,
            "overall": None if self.overall is None else self.overall.to_dict(),
            "groups": [p.to_dict() for p in self.groups.values()],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReferenceProfile:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise InvalidInput(
                f"reference profile schema_version {d.get('schema_version')!r} is not supported "
                f"(expected {SCHEMA_VERSION}); rebuild the profile",
                code=ErrorCode.UNSUPPORTED_SCHEMA_VERSION,
                field="schema_version",
            )
        try:
            prof = cls(
                spec=ProfileSpec.from_dict(d["spec"]),
                rows=int(d["rows"]),
                numeric={p["name"]: NumericProfile.from_dict(p) for p in d["numeric"]},
                categorical={p["name"]: CategoricalProfile.from_dict(p) for p in d["categorical"]},
                prediction=None if d["prediction"] is None else PredictionProfile.from_dict(d["prediction"]),
                labels=None if d["labels"] is None else ints(d["labels"]),
                label_missing=int(d["label_missing"]),
                overall=None if d["overall"] is None else GroupCounts.from_dict(d["overall"]),
                groups={p["name"]: GroupProfile.from_dict(p) for p in d["groups"]},
                model_version=d.get("model_version"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"reference profile is malformed: {exc!r}", code=ErrorCode.INVALID_PROFILE) from exc
        if d.get("fingerprint") not in (None, prof.fingerprint):
            raise InvalidInput("reference profile fingerprint does not match its bins", code=ErrorCode.INVALID_PROFILE)
        return prof


def build_profile(
    data: ColumnData, spec: ProfileSpec, *, model_version: str | None = None, source: str = "reference data"
) -> ReferenceProfile:
    """Profile reference data (Arrow table/batch or mapping of NumPy columns) according to `spec`."""
    rows = row_count(data)
    numeric = {
        name: NumericProfile.build(
            name, numeric_values(column(data, name, source=source), name, source=source), spec.bins, spec.grid
        )
        for name in spec.numeric
    }
    categorical = {}
    for name in spec.categorical:
        strings = string_values(column(data, name, source=source), name, source=source)
        vocab = Vocabulary.build(strings, spec.top_k, spec.max_vocabulary)
        categorical[name] = CategoricalProfile(
            name, vocab, ints(np.bincount(vocab.assign(strings), minlength=vocab.size))
        )
    prediction = overall = labels = None
    label_missing = 0
    decisions = label = None
    if spec.prediction is not None:
        values = prediction_values(
            column(data, spec.prediction, source=source), spec.prediction, spec.prediction_kind, source=source
        )
        edges = prediction_edges(spec.prediction_kind, values, spec.bins)
        prediction = PredictionProfile(spec.prediction_kind, edges, ints([0]), 0, spec.threshold)
        counts, missing = bincount(prediction.assign(values), edges.size + 1)
        prediction = PredictionProfile(spec.prediction_kind, edges, counts, missing, spec.threshold)
        decisions = prediction.decide(values) if spec.decisions else None
    if spec.label is not None:
        label = label_values(column(data, spec.label, source=source), spec.label, source=source)
        known = label[~np.isnan(label)]
        labels, label_missing = ints(np.bincount(known.astype(np.int64), minlength=2)), int(label.size - known.size)
    groups = {}
    if decisions is not None:
        overall = GroupCounts.count(np.zeros(rows, np.int64), 1, decisions, label)
        for name in spec.sensitive:
            strings = string_values(column(data, name, source=source), name, source=source)
            vocab = Vocabulary.build(strings, spec.max_groups, spec.max_vocabulary)
            groups[name] = GroupProfile(
                name, vocab, GroupCounts.count(vocab.assign(strings), vocab.size, decisions, label)
            )
    return ReferenceProfile(
        spec=spec,
        rows=rows,
        numeric=numeric,
        categorical=categorical,
        prediction=prediction,
        labels=labels,
        label_missing=label_missing,
        overall=overall,
        groups=groups,
        model_version=model_version,
    )
