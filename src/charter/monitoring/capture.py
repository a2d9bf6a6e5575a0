"""Capture of production calls as window sketches: features from the request JSON, the prediction from the response.

The gateway calls the capturer after each answered call. The call's values are read into a small in-memory buffer
(never stored), folded into the window's sketch every `fold_rows` rows (in a worker thread), and the sketches are
drained every flush interval and merged into their window's row in the database. Memory per monitored model is one
sketch per open window plus at most `max_buffer` buffered rows; calls beyond that are counted as dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from charter.core.errors import CharterError, InvalidInput
from charter.monitoring.profile import ReferenceProfile
from charter.monitoring.sketch import WindowSketch, merge

log = logging.getLogger("charter.monitoring")
Segment = str | int
_SEGMENT = re.compile(r"\.?([A-Za-z0-9_\-]+)|\[(\d+)\]")


class CapturedDeployment(Protocol):
    """What capture needs of a gateway deployment (structural: monitoring sits below the gateway)."""

    @property
    def name(self) -> str: ...

    @property
    def digest(self) -> str: ...

    @property
    def env(self) -> str: ...

    @property
    def kind(self) -> str: ...


def parse_path(path: str) -> tuple[Segment, ...]:
    """`$.a.b[0].c` / `a.b` → ('a', 'b', 0, 'c'); `$` or '' → () (the whole document)."""
    rest = path[1:] if path.startswith("$") else path
    out: list[Segment] = []
    pos = 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if m is None or m.end() == pos:
            raise InvalidInput(f"capture path {path!r}: cannot read from position {pos + 1}", field="capture")
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return tuple(out)


def resolve(doc: Any, path: tuple[Segment, ...]) -> Any:
    """The value at `path` in a JSON document, or None when any step is missing."""
    for seg in path:
        if isinstance(seg, int):
            if not isinstance(doc, list) or seg >= len(doc):
                return None
            doc = doc[seg]
        elif isinstance(doc, dict):
            doc = doc.get(seg)
        else:
            return None
    return doc


@dataclass(frozen=True)
class Target:
    """A monitored digest: its profile and where calls carry the profiled columns."""

    profile: ReferenceProfile
    features: tuple[Segment, ...] | None  # None: the kind's default
    prediction: tuple[Segment, ...] | None

    @classmethod
    def build(cls, profile: ReferenceProfile, capture: Mapping[str, Any]) -> Target | None:
        """None when capture is switched off for this profile."""
        if not capture.get("enabled", True):
            return None
        features = capture.get("features")
        pred = capture.get("prediction") or profile.spec.prediction
        return cls(
            profile,
            None if features is None else parse_path(str(features)),
            None if pred is None else parse_path(str(pred)),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        spec = self.profile.spec
        return tuple(dict.fromkeys([*spec.numeric, *spec.categorical, *spec.sensitive]))

    def rows(self, kind: str, request: Any, response: Any) -> list[tuple[Any, ...]]:
        """One tuple per row: the feature values in `columns` order, then the prediction."""
        path = self.features if self.features is not None else (("metadata",) if kind == "openai" else ())
        found = resolve(request, path)
        objects = [o for o in found if isinstance(o, dict)] if isinstance(found, list) else [found]
        objects = [o for o in objects if isinstance(o, dict)]
        if not objects:
            return []
        preds: list[Any] = [None] * len(objects)
        if self.prediction is not None and self.profile.spec.prediction is not None:
            value = resolve(response, self.prediction)
            if isinstance(value, list) and len(value) == len(objects):
                preds = value
            elif not isinstance(value, list | dict) and len(objects) == 1:
                preds = [value]
        cols = self.columns
        return [(*(o.get(c) for c in cols), p) for o, p in zip(objects, preds, strict=True)]


def _number(v: Any) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v) if math.isfinite(v) else math.nan
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return math.nan
    return math.nan


def _strings(values: list[Any]) -> pa.Array:
    """As Arrow would read the column (so values compare as in the reference); mixed types as text."""
    plain = [v if v is None or isinstance(v, str | int | float | bool) else str(v) for v in values]
    try:
        return pa.array(plain, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in plain], type=pa.string())


def columns(target: Target, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Row tuples → the column mapping a sketch counts (predictions outside their kind become missing)."""
    spec = target.profile.spec
    names = target.columns
    out: dict[str, Any] = {}
    for i, name in enumerate(names):
        values = [r[i] for r in rows]
        if name in spec.numeric:
            out[name] = np.array([_number(v) for v in values], dtype=np.float64)
        else:
            out[name] = _strings(values)
    if spec.prediction is not None:
        pred = np.array([_number(r[-1]) for r in rows], dtype=np.float64)
        if spec.prediction_kind == "probability":
            pred[(pred < 0.0) | (pred > 1.0)] = np.nan
        elif spec.prediction_kind == "binary":
            pred[(pred != 0.0) & (pred != 1.0)] = np.nan
        out[spec.prediction] = pred
    if spec.label is not None:
        out[spec.label] = np.full(len(rows), np.nan)
    return out


@dataclass
class Flush:
    """A drained window sketch, ready to merge into the database."""

    digest: str
    env: str
    start: datetime
    end: datetime
    sketch: WindowSketch


@dataclass
class _Open:
    target: Target
    sketch: WindowSketch
    rows: list[tuple[Any, ...]] = field(default_factory=list)


class Capturer:
    """The gateway's capture hook (`capturer(deployment, request_json, response_json)`) and its buffers."""

    def __init__(
        self,
        *,
        window_s: float,
        fold_rows: int = 4096,
        max_buffer: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_s = window_s
        self.fold_rows = fold_rows
        self.max_buffer = max_buffer
        self.clock = clock
        self.targets: dict[str, Target] = {}
        self.dropped = 0
        self.captured = 0
        self._open: dict[tuple[str, str, float], _Open] = {}  # (digest, env, window start): env keeps apart
        self._lock = threading.Lock()  # buffers and the dict of open windows
        self._fold_lock = threading.Lock()  # sketch updates

    def wants(self, deployment: CapturedDeployment) -> bool:
        """Whether calls to this deployment are captured (lets the gateway skip parsing bodies it would drop)."""
        return deployment.digest in self.targets

    def window_of(self, t: float) -> float:
        return math.floor(t / self.window_s) * self.window_s

    def __call__(self, deployment: CapturedDeployment, request: Any, response: Any) -> Awaitable[None] | None:
        """Buffer the call's rows; returns the fold to await (in a worker thread) when the buffer is due for one."""
        return asyncio.to_thread(self.fold) if self.add(deployment, request, response) else None

    def add(self, deployment: CapturedDeployment, request: Any, response: Any) -> bool:
        """Buffer the call's rows (none when the deployment is not monitored); True when `fold` is due."""
        target = self.targets.get(deployment.digest)
        if target is None:
            return False
        rows = target.rows(str(deployment.kind), request, response)
        if not rows:
            return False
        key = (deployment.digest, deployment.env, self.window_of(self.clock()))
        with self._lock:
            slot = self._open.get(key)
            if slot is None or slot.target is not target:
                slot = self._open[key] = _Open(target, WindowSketch.empty(target.profile))
            if len(slot.rows) + len(rows) > self.max_buffer:
                self.dropped += len(rows)
                return False
            slot.rows.extend(rows)
            self.captured += len(rows)
            return len(slot.rows) >= self.fold_rows

    def fold(self) -> None:
        """Count every buffered row into its window's sketch."""
        with self._fold_lock:
            with self._lock:
                work = [(slot, slot.rows) for slot in self._open.values() if slot.rows]
                for slot, _ in work:
                    slot.rows = []
            for slot, rows in work:
                try:
                    slot.sketch.update(columns(slot.target, rows), source="gateway capture")
                except CharterError as exc:
                    self.dropped += len(rows)
                    log.warning("captured rows not counted: %s: %s", exc.code, exc.message)

    def drain(self, *, closed_only: bool = False) -> list[Flush]:
        """Fold, then hand over every window sketch with rows (only those of past windows with `closed_only`)."""
        self.fold()
        now = self.window_of(self.clock())
        out = []
        with self._fold_lock, self._lock:
            for (digest, env, start), slot in list(self._open.items()):
                if closed_only and start >= now:
                    continue
                if slot.sketch.rows:
                    out.append(Flush(digest, env, _utc(start), _utc(start + self.window_s), slot.sketch))
                if start < now and not slot.rows:
                    del self._open[(digest, env, start)]
                else:
                    slot.sketch = WindowSketch.empty(slot.target.profile)
        return out

    def restore(self, flush: Flush) -> None:
        """Put back a sketch whose write failed, to be retried with the next flush."""
        with self._fold_lock, self._lock:
            target = self.targets.get(flush.digest)
            if target is None or target.profile.fingerprint != flush.sketch.fingerprint:
                self.dropped += flush.sketch.rows
                return
            key = (flush.digest, flush.env, flush.start.timestamp())
            slot = self._open.get(key)
            if slot is None or slot.target.profile.fingerprint != flush.sketch.fingerprint:
                self._open[key] = _Open(target, flush.sketch)
            else:
                slot.sketch = merge(slot.sketch, flush.sketch)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
