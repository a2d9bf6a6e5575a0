"""Capture for in-process models: each call's features and prediction counted into window sketches in the calling
process, and only the sketches (counts per bin, never the values) sent to Charter every `flush_s`.

The deployment's reference profile (its bins) and the server's window length come from Charter
(`GET /api/v1/deployments/{name}/capture`); sketches go to `POST` on the same path and are merged into the caller's
part of the window the gateway's capture also fills, where the license conditions are checked. Capture never breaks a
call: anything that goes wrong is logged and counted in `dropped`; a sketch that cannot be sent is kept for the next
flush (bounded by `max_buffer` rows).

What a call's data is, by default: the features are the first argument that is a mapping (one row), a list of
mappings (a batch), a pandas DataFrame or an Arrow table (else the keyword arguments, as one row); the prediction is
the return value (a number or label for one row, a list or array for a batch, or a mapping holding the profile's
prediction column). `Guard.observe(features, prediction)` records data the decorator cannot see.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from charter.core.errors import ErrorCode
from charter.guard.model import CaptureRefused
from charter.monitoring.capture import Capturer, Target
from charter.monitoring.profile import ReferenceProfile

log = logging.getLogger("charter.guard")
RETRY_TARGET_S = 60.0


class CaptureClient(Protocol):
    """How the SDK reaches Charter for capture (the remote API or a local container)."""

    def capture_target(self, deployment: str) -> Mapping[str, Any]: ...

    def submit_capture(self, deployment: str, start: datetime, end: datetime, sketch: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class _Monitored:
    """What the capturer keys windows by (structurally a gateway deployment)."""

    name: str
    digest: str
    kind: str = "sdk"
    env: str = ""  # one deployment per capture: the server files the counts under the deployment's environment


def call_features(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The features of a decorated call: its first data argument, else its keyword arguments (module docstring)."""
    for arg in args:
        rows = as_rows(arg)
        if rows is not None:
            return rows
    return dict(kwargs) if kwargs else None


def as_rows(value: Any) -> dict[str, Any] | list[Any] | None:
    """One row (a mapping), a batch (a list of mappings), or None when `value` is not tabular data."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value) if value and all(isinstance(v, Mapping) for v in value) else None
    if hasattr(value, "to_pylist"):  # pyarrow Table / RecordBatch
        rows = value.to_pylist()
        return rows if isinstance(rows, list) else None
    if hasattr(value, "columns") and hasattr(value, "to_dict"):  # pandas DataFrame
        try:
            rows = value.to_dict(orient="records")
        except TypeError:
            return None
        return rows if isinstance(rows, list) else None
    return None


def prediction_doc(prediction: Any, column: str | None) -> Any:
    """The response document the profile's prediction column is read from."""
    if isinstance(prediction, Mapping) or column is None:
        return prediction
    if hasattr(prediction, "tolist"):  # numpy array or scalar
        prediction = prediction.tolist()
    if isinstance(prediction, list) and prediction and all(isinstance(p, list) and len(p) == 1 for p in prediction):
        prediction = [p[0] for p in prediction]  # a column vector
    return {column: prediction}


class Capture:
    """Counts calls of one deployment into window sketches and sends them to Charter (module docstring)."""

    def __init__(
        self,
        deployment: str,
        client: CaptureClient,
        *,
        flush_s: float = 60.0,
        fold_rows: int = 4096,
        max_buffer: int = 100_000,
        background: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.deployment = deployment
        self.client = client
        self.flush_s = flush_s
        self.clock = clock
        self.sent = 0  # windows sent
        self._fold_rows = fold_rows
        self._max_buffer = max_buffer
        self._capturer: Capturer | None = None
        self._monitored: _Monitored | None = None
        self._column: str | None = None
        self._next_try = 0.0
        self._dropped = 0
        self._lock = threading.Lock()  # loading the target
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._background = background
        self._closed = False

    @property
    def ready(self) -> bool:
        """Whether the deployment's profile is loaded (observing then does no I/O)."""
        return self._capturer is not None and bool(self._capturer.targets)

    @property
    def captured(self) -> int:
        return 0 if self._capturer is None else self._capturer.captured

    @property
    def dropped(self) -> int:
        return self._dropped + (0 if self._capturer is None else self._capturer.dropped)

    # --- recording ---------------------------------------------------------------------------------------------

    def observe(self, features: Any, prediction: Any) -> None:
        """Count one call (never raises: a failure is logged and the call's rows are dropped)."""
        if self._closed:
            return
        try:
            capturer = self._ready()
            if capturer is None or self._monitored is None:
                return
            request = features if isinstance(features, dict | list) else as_rows(features)
            if request is None:
                self._dropped += 1
                return
            if capturer.add(self._monitored, request, prediction_doc(prediction, self._column)):
                if self._thread is not None:
                    self._wake.set()
                else:
                    capturer.fold()
        except Exception as exc:
            self._dropped += 1
            log.warning("%s: call not captured: %s: %s", self.deployment, type(exc).__name__, exc)

    def _ready(self) -> Capturer | None:
        """The capturer, once the deployment's profile is loaded (retried every RETRY_TARGET_S when it is not)."""
        if self.ready:
            return self._capturer
        now = time.monotonic()
        if now < self._next_try:
            return None
        with self._lock:
            if self.ready:
                return self._capturer
            self._next_try = now + RETRY_TARGET_S
            try:
                doc = self.client.capture_target(self.deployment)
            except Exception as exc:
                log.warning("%s: calls are not captured for now: %s", self.deployment, exc)
                return None
            self._load(doc)
            if self._background and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="charter-guard-capture", daemon=True)
                self._thread.start()
                atexit.register(self.close)
            return self._capturer

    def _load(self, doc: Mapping[str, Any]) -> None:
        profile = ReferenceProfile.from_dict(doc["profile"]["profile"])
        column = profile.spec.prediction
        target = Target(profile, features=(), prediction=None if column is None else (column,))
        monitored = _Monitored(self.deployment, str(doc["digest"]))
        if self._capturer is None:
            self._capturer = Capturer(
                window_s=float(doc["window_s"]),
                fold_rows=self._fold_rows,
                max_buffer=self._max_buffer,
                clock=self.clock,
            )
        self._capturer.targets = {monitored.digest: target}
        self._monitored, self._column = monitored, column

    # --- sending -----------------------------------------------------------------------------------------------

    def flush(self) -> int:
        """Send every counted window now; returns the windows sent (the rest is kept for the next flush)."""
        capturer = self._capturer
        if capturer is None:
            return 0
        sent = 0
        with self._flush_lock:
            for item in capturer.drain():
                try:
                    self.client.submit_capture(self.deployment, item.start, item.end, item.sketch.to_dict())
                    sent += 1
                except CaptureRefused as exc:
                    self._dropped += item.sketch.rows
                    log.warning("%s: captured window dropped: %s", self.deployment, exc)
                    if exc.code in (
                        ErrorCode.PROFILE_MISMATCH,
                        ErrorCode.PROFILE_NOT_FOUND,
                        ErrorCode.CAPTURE_DISABLED,
                    ):
                        capturer.targets = {}  # reload the profile before counting more
                        self._next_try = 0.0
                except Exception as exc:  # unreachable: keep the counts for the next flush
                    log.warning("%s: captured window not sent yet: %s", self.deployment, exc)
                    capturer.restore(item)
        self.sent += sent
        return sent

    def _run(self) -> None:
        deadline = time.monotonic() + self.flush_s
        while not self._stop.is_set():
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if time.monotonic() >= deadline:
                    deadline = time.monotonic() + self.flush_s
                    self.flush()
                elif self._capturer is not None:
                    self._capturer.fold()
            except Exception:
                log.exception("%s: capture flush failed", self.deployment)

    def close(self) -> None:
        """Send what is counted and stop the background thread (also run at interpreter exit)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.flush()
        except Exception:
            log.exception("%s: final capture flush failed", self.deployment)
