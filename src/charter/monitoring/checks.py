"""License conditions against windows, and the license action a breach takes.

Each live license of a window's digest and environment has its conditions checked against the window (with the
windows before it, for `after N windows`). A condition that fires calls `licenses.service.suspend/revoke` as
SYSTEM_ACTOR with the evidence, in the caller's transaction, so the window's metrics, the checks and the license
change commit together.

Hysteresis: monitoring never reinstates. A window fires each condition at most once per license: after a person
reinstated a license, only a later window can suspend it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from charter.auth.model import SYSTEM_ACTOR
from charter.core import tracing
from charter.core.clock import isoformat, utcnow
from charter.core.errors import CharterError
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.licenses import conditions as license_conditions
from charter.licenses import service as licenses
from charter.monitoring import repository as repo
from charter.monitoring.conditions import Condition, Decision, parse_condition, persistence, strongest
from charter.monitoring.conditions import evaluate as evaluate_condition
from charter.monitoring.tables import CheckRow, WindowRow
from charter.storage.uow import UnitOfWork

log = logging.getLogger("charter.monitoring")
HISTORY_SLACK = 50  # windows read beyond N, so windows without data (which neither count nor interrupt) are skipped
# Suspension category (which reinstatement sign-offs the licensing policy asks for) by metric, else metric family:
# a system refused calls out of its scope is a security matter; an upstream that fails is an operational one.
CATEGORIES = {
    "drift": "drift",
    "perf": "performance",
    "fairness": "fairness",
    "window": "drift",
    "gateway": "security",
    "gateway.calls": "performance",
    "gateway.error_rate": "performance",
}


@dataclass(frozen=True)
class Watched:
    """A live license of the digest and its conditions (position in the license → parsed condition)."""

    license_id: str
    state: str
    conditions: tuple[tuple[int, Condition], ...]
    env: str = "production"


def watched(uow: UnitOfWork, digest: str, env: str | None) -> list[Watched]:
    """Active and suspended licenses of `digest` in environment `env` (every environment when None, for reading)
    that carry conditions: a window acts only on licenses of its own environment (staging never suspends production)."""
    out = []
    for entry in licenses.active_index(uow):
        if entry.digest != digest or (env is not None and entry.env != env) or not entry.conditions:
            continue
        parsed = []
        for pos, raw in enumerate(entry.conditions):
            try:
                parsed.append((pos, parse_condition(license_conditions.render(raw))))
            except CharterError as exc:  # stored by the same parser, so this means a stored condition was altered
                log.error("license %s condition %d not understood by monitoring: %s", entry.license_id, pos, exc)
        out.append(Watched(entry.license_id, entry.state, tuple(parsed), entry.env))
    return out


def _history(uow: UnitOfWork, window: WindowRow, conditions: list[Condition]) -> list[dict[str, Any]]:
    """Metric values of `window` and the windows before it, oldest first."""
    depth = max((c.windows for c in conditions), default=1) + HISTORY_SLACK
    rows = repo.windows_of(uow, window.digest, limit=depth, until=window)
    return [dict(w.metrics) for w in reversed(rows)]


def _evidence(window: WindowRow, license_id: str, decision: Decision, fired: list[Decision]) -> dict[str, Any]:
    latest = decision.latest
    assert latest is not None
    cond = decision.condition
    return {
        "source": "monitoring",
        "license": license_id,
        "model": window.model_ref,
        "digest": window.digest,
        "env": window.env,
        "window": window.id,
        "window_start": isoformat(window.start),
        "window_end": isoformat(window.end),
        "rows": window.rows,
        "metric": cond.metric,
        "op": cond.op,
        "observed": latest.observed,
        "threshold": cond.threshold,
        "condition": str(cond),
        "consecutive": decision.consecutive,
        "required": cond.windows,
        "breaches": [d.to_dict() for d in fired],
    }


def _upsert(
    uow: UnitOfWork, window: WindowRow, lic: Watched, pos: int, decision: Decision, old: CheckRow | None
) -> CheckRow:
    latest = decision.latest
    assert latest is not None
    cond = decision.condition
    row = old or CheckRow(id=new_id("chk"), window_id=window.id, license_id=lic.license_id, position=pos)
    row.digest = window.digest
    row.condition = str(cond)
    row.metric = cond.metric
    row.op = cond.op
    row.threshold = cond.threshold
    row.action = cond.action
    row.windows = cond.windows
    row.status = latest.status
    row.observed = latest.observed
    row.consecutive = decision.consecutive
    row.checked_at = utcnow()
    if old is None:
        uow.session.add(row)
    return row


def check_window(uow: UnitOfWork, window: WindowRow) -> list[CheckRow]:
    """Check every live license of the window's digest and environment against it; act on conditions that fire
    (not committed here unless a license action commits; the caller commits)."""
    with tracing.span("monitoring.check", {"monitoring.window": window.id, "monitoring.env": window.env}) as current:
        out = _check_window(uow, window)
        if current is not None:
            current.set_attribute("monitoring.checks", len(out))
            current.set_attribute("monitoring.firing", sum(1 for r in out if r.status == "breached"))
        return out


def _check_window(uow: UnitOfWork, window: WindowRow) -> list[CheckRow]:
    out: list[CheckRow] = []
    for lic in watched(uow, window.digest, window.env):
        conds = [c for _, c in lic.conditions]
        history = _history(uow, window, conds)
        existing = {c.position: c for c in repo.checks_of(uow, window.id, lic.license_id)}
        firing: list[tuple[CheckRow, Decision]] = []
        for pos, cond in lic.conditions:
            decision = persistence(cond, [evaluate_condition(cond, m) for m in history])
            row = _upsert(uow, window, lic, pos, decision, existing.get(pos))
            out.append(row)
            if decision.action is not None and row.fired is None:
                firing.append((row, decision))
        if firing:
            _act(uow, window, lic, firing)
    uow.session.flush()
    return out


def _act(uow: UnitOfWork, window: WindowRow, lic: Watched, firing: list[tuple[CheckRow, Decision]]) -> None:
    """Take the strongest action of the conditions that fired; record it on their checks and in the audit log."""
    action = strongest(d for _, d in firing)
    assert action is not None
    decisions = [d for _, d in firing]
    lead = next(d for d in decisions if d.action == action)
    evidence = _evidence(window, lic.license_id, lead, decisions)
    if action == "suspend" and lic.state != "active":
        outcome = f"license already {lic.state}"
    else:
        outcome = "suspended" if action == "suspend" else "revoked"
    for row, d in firing:
        row.fired = d.action
        row.outcome = outcome if d.action == action else f"superseded by {action}"
    uow.record(
        AuditEvent(
            SYSTEM_ACTOR.ref,
            "monitoring.breach",
            f"license:{lic.license_id}",
            details={**evidence, "action": action, "license_state": lic.state},
        )
    )
    if outcome not in ("suspended", "revoked"):
        return
    observed = evidence["observed"]
    reason = (
        f"monitoring: {evidence['condition']} breached in window {evidence['window_start']} – "
        f"{evidence['window_end']} of {window.model_ref} (observed {observed:.6g}, threshold "
        f"{evidence['threshold']:g})"
    )
    try:
        if action == "suspend":
            metric = lead.condition.metric
            category = CATEGORIES.get(metric) or CATEGORIES.get(metric.split(".", 1)[0])
            licenses.suspend(uow, SYSTEM_ACTOR, lic.license_id, reason, evidence, category=category)
        else:
            licenses.revoke(uow, SYSTEM_ACTOR, lic.license_id, reason, evidence)
    except CharterError as exc:
        log.warning("monitoring could not %s license %s: %s: %s", action, lic.license_id, exc.code, exc.message)
        for row, _ in firing:
            row.fired = None
            row.outcome = f"failed: {exc.code}"[:200]
        details = {"window": window.id, "action": action, "code": exc.code, "message": exc.message[:500]}
        event = AuditEvent(SYSTEM_ACTOR.ref, "monitoring.action_failed", f"license:{lic.license_id}", details=details)
        uow.record(event)
