"""Gateway signals into monitoring windows: count the audited license decisions (`gateway_signals`) per window and
write the `gateway.*` metrics of the current and previous windows of each (digest, environment) whose live licenses
carry a `gateway.*` condition, then check those licenses' conditions on them (so a breach suspends at once).

Counting is incremental: the scheduled check reads only the audit entries appended since its last pass (the log is
appended in sequence order under one lock, so a sequence cursor misses nothing), kept as counts per (window,
license) for the two windows that can still change. A cold start (a new process, or the check lease moved here)
re-counts the previous and current windows from their start.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select

from charter.audit import store
from charter.audit.store import EntryFilter
from charter.audit.tables import ENTRIES
from charter.core.clock import as_utc, utcnow
from charter.licenses import service as licenses
from charter.licenses.model import LicenseIndexEntry
from charter.monitoring import checks
from charter.monitoring import gateway_signals as gs
from charter.monitoring import repository as repo
from charter.monitoring.tables import WindowRow
from charter.storage.uow import UnitOfWork

CHUNK = 5_000
Group = tuple[str, str]  # (digest, env)


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def watching(entries: Iterable[LicenseIndexEntry]) -> dict[Group, list[LicenseIndexEntry]]:
    """The live licenses of each (digest, env) where at least one live license has a `gateway.*` condition."""
    by_group: dict[Group, list[LicenseIndexEntry]] = {}
    for e in entries:
        by_group.setdefault((e.digest, e.env), []).append(e)
    return {
        g: found
        for g, found in by_group.items()
        if any(str(c.get("metric", "")).startswith(gs.PREFIX) for e in found for c in e.conditions)
    }


class GatewayCounts:
    """Counts per (window start, license id) of the windows that can still change, and the audit cursor."""

    def __init__(self, window_s: float, min_calls: int = gs.DEFAULT_MIN_CALLS) -> None:
        self.window_s = window_s
        self.min_calls = min_calls
        self.cursor: int | None = None  # highest audit sequence number counted
        self.counts: dict[tuple[float, str], gs.Tally] = {}

    def scan(self, uow: UnitOfWork, now: datetime) -> set[tuple[float, str]]:
        """Count the inference entries appended since the last scan; returns the (window start, license id) pairs
        whose counts changed."""
        current = gs.window_start(as_utc(now).timestamp(), self.window_s)
        oldest = current - self.window_s
        self.counts = {k: v for k, v in self.counts.items() if k[0] >= oldest}
        after = self.cursor
        if after is None:  # cold: from the first entry of the previous window
            self.counts = {}
            found = store.seq_range(uow.session, EntryFilter(since=_utc(oldest)))
            after = found[0] - 1 if found is not None else store.head(uow.session).size - 1
        touched: set[tuple[float, str]] = set()
        while True:
            q = (
                select(ENTRIES.c.seq, ENTRIES.c.ts, ENTRIES.c.action, ENTRIES.c.body)
                .where(ENTRIES.c.seq > after, ENTRIES.c.action.in_(gs.ACTIONS))
                .order_by(ENTRIES.c.seq)
                .limit(CHUNK)
            )
            rows = uow.session.execute(q).all()
            for row in rows:
                start = gs.window_start(as_utc(row.ts).timestamp(), self.window_s)
                if start < oldest:
                    continue
                details: dict[str, Any] = orjson.loads(row.body).get("details") or {}
                add = gs.classify(row.action, details)
                if add is None:
                    continue
                key = (start, str(details["license_id"]))
                self.counts.setdefault(key, gs.Tally()).add(add)
                touched.add(key)
            if rows:
                after = rows[-1].seq
            if len(rows) < CHUNK:
                break
        self.cursor = after
        return touched

    def tally(self, start: float, license_ids: Iterable[str]) -> gs.Tally:
        return gs.total(self.counts.get((start, lic), gs.Tally()) for lic in license_ids)


def count(uow: UnitOfWork, counts: GatewayCounts, now: datetime) -> set[tuple[float, str]]:
    """`counts.scan` while some live license has a `gateway.*` condition; otherwise nothing is read (an install
    without such conditions never parses its inference entries) and the next count starts cold."""
    if not watching(licenses.active_index(uow)):
        counts.cursor, counts.counts = None, {}
        return set()
    return counts.scan(uow, now)


def record(uow: UnitOfWork, counts: GatewayCounts, touched: set[tuple[float, str]]) -> list[WindowRow]:
    """Write the `gateway.*` metrics of the windows whose counts changed (`touched`, from `scan`) and check their
    licenses' conditions (not committed here; a license action commits with the caller's transaction)."""
    if not touched:
        return []
    out = []
    for _group, found in sorted(watching(licenses.active_index(uow)).items()):
        ids = [e.license_id for e in found]
        for start in sorted({s for s, lic in touched if lic in ids}):
            tally = counts.tally(start, ids)
            if tally.calls == 0:
                continue
            window = write(uow, found[0], start, start + counts.window_s, tally, counts.min_calls)
            checks.check_window(uow, window)
            out.append(window)
    return out


def write(
    uow: UnitOfWork, lic: LicenseIndexEntry, start: float, end: float, tally: gs.Tally, min_calls: int
) -> WindowRow:
    """Set the `gateway.*` metrics and report of the window [start, end) of the license's digest and environment
    (created when new; a window with captured or uploaded data keeps them)."""
    profile = repo.profile_row(uow, lic.digest)
    window = repo.lock_window_of(
        uow,
        digest=lic.digest,
        env=lic.env,
        system=lic.system,
        model_ref=profile.model_ref if profile is not None else f"{lic.system}@{lic.model_version}",
        fingerprint=profile.fingerprint if profile is not None else "",
        start=_utc(start),
        end=_utc(end),
    )
    values = gs.values(tally, min_calls)
    metrics = {k: v for k, v in window.metrics.items() if not k.startswith(gs.PREFIX)}
    metrics.update(values)
    window.metrics = metrics
    window.report = {**window.report, gs.SOURCE: {**tally.to_dict(), "min_calls": min_calls}}
    window.sources = sorted({*window.sources, gs.SOURCE})
    window.updated_at = utcnow()
    repo.replace_metrics(uow, window, metrics)
    uow.session.flush()
    return window
