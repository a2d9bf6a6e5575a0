"""Read models: profile and window views, a model version's status, metric time series, chart series with
thresholds and breach markers (dashboard), recent breaches (overview) and the per-system summary (reports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from charter.auth.authorize import allowed, authorize, authorize_any
from charter.auth.model import Actor, Permission, Resource
from charter.catalog import service as catalog
from charter.catalog.schemas import ModelVersionRead
from charter.core.clock import as_utc
from charter.core.errors import InvalidInput
from charter.licenses import service as licenses
from charter.monitoring import checks
from charter.monitoring import repository as repo
from charter.monitoring.conditions import evaluate, persistence
from charter.monitoring.drift import DriftThresholds
from charter.monitoring.schemas import (
    BreachRead,
    CheckRead,
    MetricSeries,
    Point,
    ProfileRead,
    StatusRead,
    WindowRead,
)
from charter.monitoring.tables import CheckRow, ProfileRow, WindowHistoryRow, WindowRow
from charter.storage.uow import UnitOfWork

HEADLINE = ("window.rows", "drift.psi_max", "drift.prediction_psi", "perf.accuracy", "fairness.dp_diff")
MAX_LIMIT = 1000


def _version(uow: UnitOfWork, actor: Actor, ref: str) -> ModelVersionRead:
    model_version = catalog.get_model_version(uow, ref)
    authorize(actor, Permission.MONITOR_READ, catalog.system_resource(uow, model_version.system))
    return model_version


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def profile_read(row: ProfileRow, *, full: bool) -> ProfileRead:
    return ProfileRead(
        id=row.id,
        model=row.model_ref,
        system=row.system,
        digest=row.digest,
        fingerprint=row.fingerprint,
        rows=row.rows,
        spec=row.spec,
        source=row.source,
        capture=row.capture,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        profile=row.profile if full else None,
    )


def check_read(row: CheckRow, state: str | None = None) -> CheckRead:
    return CheckRead(
        license=row.license_id,
        license_state=state,
        condition=row.condition,
        metric=row.metric,
        op=row.op,
        threshold=row.threshold,
        action=row.action,
        windows=row.windows,
        status=row.status,
        observed=row.observed,
        consecutive=row.consecutive,
        fired=row.fired,
        outcome=row.outcome,
        window=row.window_id,
        checked_at=row.checked_at,
    )


def _states(uow: UnitOfWork) -> dict[str, str]:
    return {e.license_id: e.state for e in licenses.active_index(uow)}


def window_read(
    uow: UnitOfWork,
    window: WindowRow,
    rows: Sequence[CheckRow] | None = None,
    *,
    report: bool = False,
    states: dict[str, str] | None = None,
    history: bool = False,
) -> WindowRead:
    states = _states(uow) if states is None else states
    found = repo.checks_of(uow, window.id) if rows is None else rows
    contributions = [contribution(h) for h in repo.history_of(uow, window.id)] if history or report else None
    return WindowRead(
        id=window.id,
        model=window.model_ref,
        digest=window.digest,
        env=window.env,
        start=window.start,
        end=window.end,
        rows=window.rows,
        status=window.status,
        sources=list(window.sources),
        metrics=dict(window.metrics),
        checks=[check_read(c, states.get(c.license_id)) for c in found],
        report=dict(window.report) if report else None,
        updated_at=window.updated_at,
        contributions=contributions,
    )


def contribution(h: WindowHistoryRow) -> dict[str, Any]:
    """One entry of a window's history: what a source added (merge) or replaced (a correction)."""
    return {
        "source": h.source,
        "action": h.action,
        "rows": h.rows,
        "part_rows_before": h.part_rows_before,
        "part_rows_after": h.part_rows_after,
        "window_rows_after": h.window_rows_after,
        "sketch_sha256": h.sketch_sha256,
        "replaced_sha256": h.replaced_sha256,
        "by": h.created_by,
        "at": as_utc(h.created_at).isoformat().replace("+00:00", "Z"),
    }


def status(uow: UnitOfWork, actor: Actor, ref: str) -> StatusRead:
    """Profile, latest window, and each live license condition on it: holds / breached / no_data."""
    model_version = _version(uow, actor, ref)
    prof = repo.profile_row(uow, model_version.digest)
    window = repo.latest_window(uow, model_version.digest)
    lics, conds = [], []
    per_env: dict[str, tuple[WindowRow | None, dict[tuple[str, int], CheckRow], list[dict[str, Any]]]] = {}
    for w in checks.watched(uow, model_version.digest, None):
        if w.env not in per_env:  # each license is read against the windows of its own environment
            newest = repo.latest_window(uow, model_version.digest, w.env)
            found = {(c.license_id, c.position): c for c in repo.checks_of(uow, newest.id)} if newest else {}
            recent = (
                repo.windows_of(uow, model_version.digest, limit=checks.HISTORY_SLACK * 4, env=w.env) if newest else []
            )
            per_env[w.env] = (newest, found, [dict(x.metrics) for x in reversed(recent)])
        env_window, stored, history = per_env[w.env]
        lics.append(
            {"id": w.license_id, "state": w.state, "env": w.env, "conditions": [str(c) for _, c in w.conditions]}
        )
        for pos, cond in w.conditions:
            row = stored.get((w.license_id, pos))
            if row is not None:
                conds.append(check_read(row, w.state))
                continue
            decision = persistence(cond, [evaluate(cond, m) for m in history]) if history else None
            latest = decision.latest if decision else None
            conds.append(
                CheckRead(
                    license=w.license_id,
                    license_state=w.state,
                    condition=str(cond),
                    metric=cond.metric,
                    op=cond.op,
                    threshold=cond.threshold,
                    action=cond.action,
                    windows=cond.windows,
                    status=latest.status if latest else "no_data",
                    observed=latest.observed if latest else None,
                    consecutive=decision.consecutive if decision else 0,
                    window=env_window.id if env_window else None,
                )
            )
    return StatusRead(
        model=f"{model_version.system}@{model_version.version}",
        digest=model_version.digest,
        profile=profile_read(prof, full=False) if prof else None,
        window=window_read(uow, window, report=True) if window else None,
        licenses=lics,
        conditions=conds,
        breached=any(c.status == "breached" for c in conds),
    )


def metric_series(
    uow: UnitOfWork, actor: Actor, ref: str, metric_ids: Sequence[str] = (), *, limit: int = 100
) -> list[MetricSeries]:
    """Values of the given metrics (all when none given) over the newest `limit` windows, oldest first."""
    model_version = _version(uow, actor, ref)
    by_metric: dict[str, list[Point]] = {m: [] for m in metric_ids}
    for metric, wid, start, end, value in repo.series(uow, model_version.digest, list(metric_ids), limit=_limit(limit)):
        by_metric.setdefault(metric, []).append(Point(window=wid, start=start, end=end, value=value))
    return [MetricSeries(metric=m, points=p) for m, p in by_metric.items()]


def _readable(uow: UnitOfWork, actor: Actor, systems: Sequence[str]) -> set[str]:
    scopes: dict[str, Resource] = {s: catalog.system_resource(uow, s) for s in set(systems)}
    return {s for s, r in scopes.items() if allowed(actor, Permission.MONITOR_READ, r)}


def list_profiles(uow: UnitOfWork, actor: Actor) -> list[ProfileRead]:
    """Model versions with a reference profile that the actor may read."""
    authorize_any(actor, Permission.MONITOR_READ)
    rows = repo.profiles_of(uow)
    ok = _readable(uow, actor, [r.system for r in rows])
    return [profile_read(r, full=False) for r in rows if r.system in ok]


def list_windows(uow: UnitOfWork, actor: Actor, ref: str | None = None, *, limit: int = 50) -> list[WindowRead]:
    """Newest windows of one model version, or of every monitored version the actor may read."""
    if ref is not None:
        model_version = _version(uow, actor, ref)
        states = _states(uow)
        return [
            window_read(uow, w, states=states) for w in repo.windows_of(uow, model_version.digest, limit=_limit(limit))
        ]
    authorize_any(actor, Permission.MONITOR_READ)
    out: list[WindowRead] = []
    rows = repo.profiles_of(uow)
    ok = _readable(uow, actor, [r.system for r in rows])
    states = _states(uow)
    for prof in rows:
        if prof.system in ok:
            found = repo.windows_of(uow, prof.digest, limit=_limit(limit))
            out += [window_read(uow, w, states=states) for w in found]
    out.sort(key=lambda w: (as_utc(w.end), as_utc(w.start)), reverse=True)
    return out[:limit]


def _watched_metrics(uow: UnitOfWork, digest: str) -> list[tuple[str, checks.Watched, Any]]:
    return [(c.metric, w, c) for w in checks.watched(uow, digest, None) for _, c in w.conditions]


def series(
    uow: UnitOfWork, actor: Actor, ref: str, metric_ids: Sequence[str] = (), *, limit: int = 200
) -> dict[str, Any]:
    """Chart data for the dashboard (`static/charts.js` shape): x = window ends (unix s), one series per metric,
    threshold lines from the live licenses' conditions (and the PSI defaults) and breach markers from the checks.

    Without `metric_ids`: the metrics the conditions watch, then the headline metrics that have values."""
    model_version = _version(uow, actor, ref)
    windows = list(reversed(repo.windows_of(uow, model_version.digest, limit=_limit(limit))))
    watched = _watched_metrics(uow, model_version.digest)
    wanted = list(dict.fromkeys(metric_ids))
    if not wanted:
        present = {k for w in windows for k, v in w.metrics.items() if v is not None}
        wanted = list(dict.fromkeys([*(m for m, _, _ in watched), *(m for m in HEADLINE[1:] if m in present)]))
    xs = [int(as_utc(w.end).timestamp()) for w in windows]
    thresholds: list[dict[str, Any]] = []
    for metric, lic, cond in watched:
        if metric in wanted:
            thresholds.append(
                {
                    "label": f"{cond} ({lic.license_id})",
                    "value": cond.threshold,
                    "kind": "breach",
                    "metric": metric,
                    "license": lic.license_id,
                }
            )
    t = DriftThresholds()
    for metric in wanted:
        if metric.startswith("drift.psi") or metric == "drift.prediction_psi":
            thresholds += [
                {"label": f"PSI warn {t.psi_warn:g}", "value": t.psi_warn, "kind": "warn", "metric": metric},
                {"label": f"PSI breach {t.psi_breach:g}", "value": t.psi_breach, "kind": "warn", "metric": metric},
            ]
            break
    x_of = {w.id: x for w, x in zip(windows, xs, strict=True)}
    markers = [
        {
            "x": x_of[c.window_id],
            "y": c.observed,
            "label": c.condition,
            "metric": c.metric,
            "license": c.license_id,
            "window": c.window_id,
            "fired": c.fired,
        }
        for c in repo.checks_for_windows(uow, list(x_of))
        if c.status == "breached" and c.metric in wanted
    ]
    return {
        "id": f"monitoring-{model_version.system}-{model_version.version}",
        "title": f"{model_version.system}@{model_version.version}",
        "model": f"{model_version.system}@{model_version.version}",
        "x": xs,
        "windows": [
            {"id": w.id, "start": w.start.isoformat(), "end": w.end.isoformat(), "rows": w.rows} for w in windows
        ],
        "series": [{"label": m, "metric": m, "values": [w.metrics.get(m) for w in windows]} for m in wanted],
        "thresholds": thresholds,
        "breaches": markers,
    }


def _breach(check: CheckRow, window: WindowRow) -> BreachRead:
    return BreachRead(
        license=check.license_id,
        model=window.model_ref,
        condition=check.condition,
        metric=check.metric,
        value=check.observed,
        threshold=check.threshold,
        action=check.action,
        fired=check.fired,
        outcome=check.outcome,
        window=window.id,
        start=window.start,
        end=window.end,
        at=check.checked_at,
    )


def breaches_of(uow: UnitOfWork, actor: Actor, ref: str, *, limit: int = 50) -> list[BreachRead]:
    """Breached conditions on a model version's windows, newest first."""
    model_version = _version(uow, actor, ref)
    return [_breach(c, w) for c, w in repo.breaches(uow, limit=_limit(limit), digests=[model_version.digest])]


def recent_breaches(uow: UnitOfWork, actor: Actor, *, limit: int = 20) -> list[dict[str, Any]]:
    """Breached conditions the actor may see, newest first (the dashboard overview: license, condition, value, at)."""
    authorize_any(actor, Permission.MONITOR_READ)
    found = repo.breaches(uow, limit=_limit(limit) * 4)
    ok = _readable(uow, actor, [w.system for _, w in found])
    return [_breach(c, w).model_dump() for c, w in found if w.system in ok][:limit]


def summary(uow: UnitOfWork, system: str, *, limit: int = 20) -> dict[str, Any] | None:
    """What reports show of a system's monitoring (plain data; the caller has authorized): the versions with a
    reference profile and the newest windows with their headline and watched metrics and breached conditions."""
    profiles = repo.profiles_of(uow, system)
    digests = list(dict.fromkeys([*(p.digest for p in profiles), *repo.window_digests(uow, system)]))
    if not digests:
        return None
    windows: list[dict[str, Any]] = []
    for digest in digests:  # with a reference profile, or with the gateway's counts only (an LLM deployment)
        watched = {m for m, _, _ in _watched_metrics(uow, digest)}
        rows = repo.windows_of(uow, digest, limit=limit)
        found = repo.checks_for_windows(uow, [w.id for w in rows])
        for w in rows:
            keep = {k: v for k, v in w.metrics.items() if k in HEADLINE or k in watched or k == "gateway.calls"}
            broke = [c.condition for c in found if c.window_id == w.id and c.status == "breached"]
            windows.append(
                {
                    "model": w.model_ref,
                    "start": w.start,
                    "end": w.end,
                    "rows": w.rows,
                    "metrics": keep,
                    "breaches": list(dict.fromkeys(broke)),
                }
            )
    windows.sort(key=lambda w: as_utc(w["end"]), reverse=True)
    return {"profiles": [p.model_ref for p in profiles], "windows": windows[:limit]}
