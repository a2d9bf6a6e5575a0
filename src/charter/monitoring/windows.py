"""Recording a window: merge a source's sketch into the window's parts, recompute the window's metrics, store them.

Parts: `capture` (gateway flushes) and `sdk:<caller>` sketches are merged into what the part already holds;
`upload:<sha256>` replaces its earlier sketch (the same file ingested again, e.g. with late labels, never counts
twice). Parts made against an older reference profile of the digest are dropped when a part for the current one
arrives: their bins no longer compare.

Every contribution is kept in the window's history (`monitor_window_history`): a replacement records what it
replaced (rows, sketch digest), so a correction is visible, never a silent rewrite.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import datetime
from functools import reduce
from typing import Any

from charter.core.canonical import canonical_json
from charter.core.clock import as_utc, isoformat, utcnow
from charter.core.errors import ErrorCode, InvalidInput
from charter.core.events import AuditEvent
from charter.core.hashing import sha256_hex
from charter.core.ids import new_id
from charter.monitoring import gateway_signals
from charter.monitoring import repository as repo
from charter.monitoring.metrics import window_metrics
from charter.monitoring.profile import ReferenceProfile
from charter.monitoring.sketch import WindowSketch, merge
from charter.monitoring.sketch_schema import total_rows
from charter.monitoring.tables import ProfileRow, WindowHistoryRow, WindowPartRow, WindowRow
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


def check_span(start: datetime, end: datetime, window_s: float, now: datetime) -> None:
    """A window from outside must lie on the server's window grid (start and end multiples of `window_s` since the
    epoch) and end no later than one window from now: a window dated far ahead would become "the latest" and hide
    current breaches."""
    step = int(window_s)
    for name, at in (("start", start), ("end", end)):
        seconds = at.timestamp()
        if step <= 0 or seconds != int(seconds) or int(seconds) % step:
            raise InvalidInput(
                f"{name} {isoformat(at)} is not on the server's {step}-second window grid (multiples of {step} s since "
                "1970-01-01T00:00:00Z)",
                code=ErrorCode.WINDOW_MISALIGNED,
                field=name,
            )
    if end.timestamp() > now.timestamp() + window_s:
        raise InvalidInput(
            f"end {isoformat(end)} is more than one window ({step} s) after now ({isoformat(now)})",
            code=ErrorCode.WINDOW_IN_FUTURE,
            field="end",
        )


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
    window_s: float | None = None,
) -> WindowRow:
    """Add `sketch` as (or to) part `source` of window [start, end) of `env` and recompute the window; not
    committed."""
    profile = load_profile(profile_row)
    start, end = as_utc(start), as_utc(end)
    if window_s is not None:
        check_span(start, end, window_s, utcnow())
    window = repo.lock_window(uow, profile_row, env, start, end)
    parts = repo.parts_of(uow, window.id)
    stale = [p for p in parts if p.fingerprint != profile.fingerprint]
    if stale:
        repo.drop_parts(uow, stale)
        parts = [p for p in parts if p.fingerprint == profile.fingerprint]
    part = next((p for p in parts if p.source == source), None)
    now = utcnow()
    incoming = sketch.to_dict()
    before: tuple[int, str] | None = None
    if part is None:
        part = WindowPartRow(id=new_id("wpt"), window_id=window.id, source=source, created_by=actor_ref)
        uow.session.add(part)
        parts.append(part)
    else:
        before = (part.rows, sha256_hex(canonical_json(part.sketch)))
        if not replace:
            total_rows([part.rows, sketch.rows])
            sketch = merge(WindowSketch.from_dict(part.sketch, profile), sketch)
    total_rows([sketch.rows, *(p.rows for p in parts if p is not part)])
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
    # The gateway's counts of license decisions (gateway_windows) are another source of the same window: kept.
    values.update({k: v for k, v in window.metrics.items() if k.startswith(gateway_signals.PREFIX)})
    if gateway_signals.SOURCE in window.report:
        report[gateway_signals.SOURCE] = window.report[gateway_signals.SOURCE]
    window.fingerprint = profile.fingerprint
    window.sketch = merged.to_dict()
    window.rows = merged.rows
    window.metrics = values
    window.report = json_safe(report)
    window.status = computed.drift.status
    window.sources = sorted({*(p.source for p in parts), *(s for s in window.sources if s == gateway_signals.SOURCE)})
    window.updated_at = now
    repo.replace_metrics(uow, window, values)
    action = "replace" if replace and before is not None else "merge"
    uow.session.add(
        WindowHistoryRow(
            id=new_id("wph"),
            window_id=window.id,
            source=source,
            action=action,
            rows=int(incoming["rows"]),
            part_rows_before=None if before is None else before[0],
            part_rows_after=sketch.rows,
            window_rows_after=window.rows,
            sketch_sha256=sha256_hex(canonical_json(incoming)),
            replaced_sha256=before[1] if before is not None and action == "replace" else None,
            info=json_safe(info or {}),
            created_by=actor_ref,
            created_at=now,
        )
    )
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
        "action": action,
        "replaced_rows": before[0] if before is not None and action == "replace" else None,
        "dropped_stale_parts": [p.source for p in stale],
    }
    uow.record(
        AuditEvent(actor_ref, "monitoring.window", f"monitor-window:{window.id}", details=details, governance=False)
    )
    return window
