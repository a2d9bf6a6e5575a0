"""Recording a window: merge a source's sketch into the window's parts, recompute the window's metrics, store them.

Parts: `capture` (gateway flushes) and `sdk:<caller>` sketches are merged into what the part already holds;
`upload:<sha256>` replaces its earlier sketch (the same file ingested again, e.g. with late labels, never counts
twice). Parts made against an older reference profile of the digest are dropped when a part for the current one
arrives: their bins no longer compare.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import datetime
from functools import reduce
from typing import Any

from charter.core.clock import as_utc, isoformat, utcnow
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.monitoring import repository as repo
from charter.monitoring.metrics import window_metrics
from charter.monitoring.profile import ReferenceProfile
from charter.monitoring.sketch import WindowSketch, merge
from charter.monitoring.tables import ProfileRow, WindowPartRow, WindowRow
from charter.storage.uow import UnitOfWork

_CACHE: OrderedDict[str, ReferenceProfile] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 16


def load_profile(row: ProfileRow) -> ReferenceProfile:
    """The stored profile, parsed once per version of the row (a new upload changes `updated_at`)."""
    key = f"{row.id}:{isoformat(row.updated_at)}:{row.fingerprint}"
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    profile = ReferenceProfile.from_dict(row.profile)
    with _CACHE_LOCK:
        _CACHE[key] = profile
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return profile


def json_safe(value: Any) -> Any:
    """NaN and infinities → None, recursively (JSON columns, and PostgreSQL's JSONB, refuse them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def record(
    uow: UnitOfWork,
    actor_ref: str,
    profile_row: ProfileRow,
    env: str,
    start: datetime,
    end: datetime,
    source: str,
    sketch: WindowSketch,
    *,
    replace: bool,
    info: dict[str, Any] | None = None,
) -> WindowRow:
    """Add `sketch` as (or to) part `source` of window [start, end) of `env` and recompute the window; not
    committed."""
    profile = load_profile(profile_row)
    start, end = as_utc(start), as_utc(end)
    window = repo.lock_window(uow, profile_row, env, start, end)
    parts = repo.parts_of(uow, window.id)
    stale = [p for p in parts if p.fingerprint != profile.fingerprint]
    if stale:
        repo.drop_parts(uow, stale)
        parts = [p for p in parts if p.fingerprint == profile.fingerprint]
    part = next((p for p in parts if p.source == source), None)
    now = utcnow()
    if part is None:
        part = WindowPartRow(id=new_id("wpt"), window_id=window.id, source=source, created_by=actor_ref)
        uow.session.add(part)
        parts.append(part)
    elif not replace:
        sketch = merge(WindowSketch.from_dict(part.sketch, profile), sketch)
    part.fingerprint = profile.fingerprint
    part.sketch = sketch.to_dict()
    part.rows = sketch.rows
    part.info = json_safe(info or {})
    part.updated_at = now
    merged = reduce(merge, [sketch if p is part else WindowSketch.from_dict(p.sketch, profile) for p in parts])
    computed = window_metrics(profile, merged)
    report = computed.to_dict()
    values = dict(computed.values)
    report.pop("values", None)
    window.fingerprint = profile.fingerprint
    window.sketch = merged.to_dict()
    window.rows = merged.rows
    window.metrics = values
    window.report = json_safe(report)
    window.status = computed.drift.status
    window.sources = sorted(p.source for p in parts)
    window.updated_at = now
    repo.replace_metrics(uow, window, values)
    uow.session.flush()
    details = {
        "window": window.id,
        "model": window.model_ref,
        "digest": window.digest,
        "env": window.env,
        "start": isoformat(start),
        "end": isoformat(end),
        "source": source,
        "rows": window.rows,
        "part_rows": sketch.rows,
        "drift_status": window.status,
        "dropped_stale_parts": [p.source for p in stale],
    }
    uow.record(
        AuditEvent(actor_ref, "monitoring.window", f"monitor-window:{window.id}", details=details, governance=False)
    )
    return window
