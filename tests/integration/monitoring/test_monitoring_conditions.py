"""Conditions acting on licenses, on SQLite and PostgreSQL: suspension with evidence in the window's transaction
(audit entries linking window, metric, threshold and license), persistence, revoke over suspend, hysteresis (only a
person reinstates, with the sign-off rule), the scheduled check, and the read models for dashboard and reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from charter.audit.tables import AuditEntryRow
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.core.errors import Conflict
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.monitoring import service
from charter.monitoring.schemas import ProfileUpload, WindowRead, WindowUpload
from tests.integration.monitoring.support import Monitored, approve, monitored, profile_of, sketch_doc
from tests.support.builders import user

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _reference(c: Container, world: Monitored) -> None:
    body = ProfileUpload.model_validate(
        {"profile": profile_of(model_version=world.model).to_dict(), "source": {"name": "r", "sha256": "a" * 64}}
    )
    with c.uow() as uow:
        service.set_reference(uow, SYSTEM_ACTOR, world.model, body)


def _window(c: Container, world: Monitored, i: int, n: int = 2000, *, tag: str = "", **kw: Any) -> WindowRead:
    prof = profile_of(model_version=world.model)
    body = WindowUpload.model_validate(
        {
            "start": T0 + timedelta(days=i),
            "end": T0 + timedelta(days=i + 1),
            "sketch": sketch_doc(prof, n, seed=100 + i, **kw),
            "source": {"name": f"w{i}{tag}.parquet", "sha256": f"{i:063x}{len(tag)}"},
        }
    )
    with c.uow() as uow:
        return service.submit_window(uow, SYSTEM_ACTOR, world.model, body)


def _state(c: Container, license_id: str) -> str:
    with c.uow(write=False) as uow:
        return str(licenses.get(uow, SYSTEM_ACTOR, license_id).state)


def _entries(c: Container, action: str) -> list[dict[str, Any]]:
    with c.uow(write=False) as uow:
        rows = uow.session.execute(
            select(AuditEntryRow.seq, AuditEntryRow.body).where(AuditEntryRow.action == action)
        ).tuples()
        return [{"seq": seq, **json.loads(bytes(body))} for seq, body in rows]


def test_breach_suspends_with_evidence_linked_in_the_audit_log(container: Container) -> None:
    world = monitored(container, conditions=["drift.psi[income] < 0.25 => suspend"])
    _reference(container, world)
    ok = _window(container, world, 0)
    assert ok.checks[0].status == "holds" and _state(container, world.license_id) == "active"
    bad = _window(container, world, 1, shift=3.0)
    check = bad.checks[0]
    assert check.status == "breached" and check.fired == "suspend" and check.outcome == "suspended"
    assert _state(container, world.license_id) == "suspended"

    (suspend,) = _entries(container, "license.suspend")
    evidence = suspend["details"]["evidence"]
    assert suspend["actor"] == "system:charter" and suspend["resource"] == f"license:{world.license_id}"
    assert evidence["window"] == bad.id and evidence["metric"] == "drift.psi[income]"
    assert evidence["threshold"] == 0.25 and evidence["observed"] == pytest.approx(check.observed)
    assert evidence["condition"] == "drift.psi[income] < 0.25 => suspend" and evidence["license"] == world.license_id
    assert evidence["window_start"] == "2026-11-02T00:00:00Z" and evidence["rows"] == 2000
    (breach,) = _entries(container, "monitoring.breach")
    assert breach["resource"] == f"license:{world.license_id}" and breach["details"]["window"] == bad.id
    windows = [e for e in _entries(container, "monitoring.window") if e["details"]["window"] == bad.id]
    # Window, breach and suspension were appended in one transaction, in this order.
    assert windows[0]["seq"] < breach["seq"] < suspend["seq"]
    with container.uow(write=False) as uow:
        index = {e.license_id: e.state for e in licenses.active_index(uow)}
    assert index[world.license_id] == "suspended"  # what every gateway reloads from


def test_persistence_after_n_windows(container: Container) -> None:
    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend after 2 windows"])
    _reference(container, world)
    first = _window(container, world, 0, shift=3.0)
    assert (first.checks[0].status, first.checks[0].consecutive, first.checks[0].fired) == ("breached", 1, None)
    quiet = _window(container, world, 1, n=50)  # too few rows: no data, neither counts nor interrupts
    assert quiet.checks[0].status == "no_data"
    good = _window(container, world, 2)
    assert good.checks[0].status == "holds"
    again = _window(container, world, 3, shift=3.0)
    assert again.checks[0].consecutive == 1 and _state(container, world.license_id) == "active"
    _window(container, world, 4, n=50)
    fired = _window(container, world, 5, shift=3.0)
    assert fired.checks[0].consecutive == 2 and fired.checks[0].fired == "suspend"
    assert _state(container, world.license_id) == "suspended"


def test_revoke_beats_suspend(container: Container) -> None:
    world = monitored(
        container, conditions=["drift.psi_max < 0.25 => suspend", "perf.accuracy >= 0.6 => revoke"], system="c2"
    )
    _reference(container, world)
    win = _window(container, world, 0, shift=3.0, flip=True)
    by = {c.action: c for c in win.checks}
    assert by["revoke"].fired == "revoke" and by["revoke"].outcome == "revoked"
    assert by["suspend"].fired == "suspend" and by["suspend"].outcome == "superseded by revoke"
    assert _state(container, world.license_id) == "revoked"
    with container.uow(write=False) as uow:
        assert world.license_id not in {e.license_id for e in licenses.active_index(uow)}


def test_only_a_person_reinstates_and_a_window_acts_once(container: Container) -> None:
    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    _reference(container, world)
    _window(container, world, 0)
    drifted = _window(container, world, 1, shift=3.0)
    assert _state(container, world.license_id) == "suspended"

    good = _window(container, world, 2)
    assert good.checks[0].status == "holds" and good.checks[0].fired is None
    assert _state(container, world.license_id) == "suspended"  # a good window never reinstates

    senior = user(container, "sen", "senior-engineer")
    with container.uow() as uow, pytest.raises(Conflict) as refused:
        licenses.reinstate(uow, senior, world.license_id, "drift understood")
    assert refused.value.code == "license_requirements_unmet"
    approve(container, world.license_id)  # the reinstatement sign-offs of a drift suspension
    with container.uow() as uow:
        licenses.reinstate(uow, senior, world.license_id, "retrained features; reviewed")
    assert _state(container, world.license_id) == "active"

    # More data for the window that already suspended: it does not act a second time.
    again = _window(container, world, 1, shift=3.0, tag="-late")
    assert again.id == drifted.id and again.rows == 4000 and again.checks[0].status == "breached"
    assert again.checks[0].fired == "suspend"
    assert _state(container, world.license_id) == "active"
    with container.uow() as uow:
        assert service.check_latest(uow) == 0  # the scheduled check finds nothing new either
    assert _state(container, world.license_id) == "active"

    # A new breaching window does.
    _window(container, world, 3, shift=3.0)
    assert _state(container, world.license_id) == "suspended"
    assert len(_entries(container, "license.suspend")) == 2


def test_scheduled_check_covers_a_license_activated_after_the_window(container: Container) -> None:
    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    _reference(container, world)
    _window(container, world, 0, shift=3.0)
    assert _state(container, world.license_id) == "suspended"
    requester = user(container, "req2", "ml-engineer")
    body = {
        "model": world.model,
        "env": "production",
        "purposes": ["credit-scoring"],
        "callers": ["app:loan-portal"],
        "days": 30,
        "conditions": ["drift.psi_max < 0.25 => suspend"],
    }
    with container.uow() as uow:
        second = licenses.request(uow, requester, LicenseCreate.model_validate(body))
        staging = licenses.request(uow, requester, LicenseCreate.model_validate({**body, "env": "staging"}))
    approve(container, second.id)
    approve(container, staging.id)
    assert _state(container, second.id) == "active"
    with container.uow() as uow:
        assert service.check_latest(uow) == 1
    assert _state(container, second.id) == "suspended"
    assert _state(container, staging.id) == "active"  # production's window never acts on a staging license
    with container.uow() as uow:
        assert service.check_latest(uow) == 0


def test_views_for_dashboard_and_reports(container: Container) -> None:
    from charter.api.routes.monitoring import reports_source

    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    _reference(container, world)
    _window(container, world, 0)
    bad = _window(container, world, 1, shift=3.0)
    viewer = user(container, "vic", "viewer")
    with container.uow(write=False) as uow:
        chart = service.series(uow, viewer, world.model, ["drift.psi_max", "drift.psi[income]"])
        windows = service.list_windows(uow, viewer)
        recent = service.recent_breaches(uow, viewer)
        summary = reports_source(uow, world.system)
        assert reports_source(uow, "nobody") is None
    assert [s["label"] for s in chart["series"]] == ["drift.psi_max", "drift.psi[income]"]
    assert chart["breaches"] == [
        {
            "x": int(bad.end.timestamp()),
            "y": pytest.approx(bad.metrics["drift.psi_max"]),
            "label": "drift.psi_max < 0.25 => suspend",
            "metric": "drift.psi_max",
            "license": world.license_id,
            "window": bad.id,
            "fired": "suspend",
        }
    ]
    assert [w.id for w in windows][0] == bad.id
    assert recent[0]["license"] == world.license_id and recent[0]["condition"].startswith("drift.psi_max")
    assert {"license", "condition", "value", "at"} <= set(recent[0])
    assert summary is not None and summary.profiles == (world.model,)
    assert summary.breaches == [f"{world.model}: drift.psi_max < 0.25 => suspend"]
    assert summary.windows[0].rows == 2000 and "drift.psi_max" in summary.windows[0].metrics
