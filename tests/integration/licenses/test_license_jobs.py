"""Scheduled jobs with a fake clock: expiry, expiry warnings, late activation, re-audits, leases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from charter.catalog import service as catalog
from charter.core.clock import utcnow
from charter.licenses import jobs, reaudit, service
from charter.licenses.tables import AuditTaskRow
from charter.storage import leases
from charter.storage.tables import WebhookOutboxRow
from tests.integration.licenses.assessments import assess
from tests.integration.licenses.conftest import World


def _active(world: World, kind: str = "limited", days: int = 30) -> tuple[str, str]:
    model = world.system(kind) + "@1.0"
    assess(world, model, blockers=[])
    lic = world.request(model, days=days)
    assert world.approve_all(lic.id).state == "active"
    return lic.id, model


def _events(world: World, event: str) -> list[dict[str, object]]:
    with world.c.uow(write=False) as uow:
        rows = uow.session.scalars(select(WebhookOutboxRow).where(WebhookOutboxRow.event == event))
        return [r.payload for r in rows]


def _tasks(world: World, system: str) -> list[AuditTaskRow]:
    with world.c.uow(write=False) as uow:
        stmt = select(AuditTaskRow).where(AuditTaskRow.system == system).order_by(AuditTaskRow.created_at)
        rows = list(uow.session.scalars(stmt))
        uow.session.expunge_all()
        return rows


def test_expiry_and_warning(world: World) -> None:
    lid, model = _active(world, days=30)
    now = utcnow()
    out = jobs.run_due_jobs(world.c, now + timedelta(days=1))
    assert out["licenses.warn_expiring"] == 0 and out["licenses.expire"] == 0
    assert jobs.run_due_jobs(world.c, now + timedelta(days=20))["licenses.warn_expiring"] == 1
    assert jobs.run_due_jobs(world.c, now + timedelta(days=21))["licenses.warn_expiring"] == 0
    assert [e["license"] for e in _events(world, "license.expiring")] == [lid]
    assert world.get(lid).state == "active"
    assert jobs.run_due_jobs(world.c, now + timedelta(days=31))["licenses.expire"] == 1
    assert world.get(lid).state == "expired"
    with world.c.uow(write=False) as uow:
        assert not catalog.get_system(uow, model.split("@")[0]).production_licensed
        assert not service.check(uow, world.admin, model, "production").allowed
    assert jobs.run_due_jobs(world.c, now + timedelta(days=32))["licenses.expire"] == 0


def test_approved_license_activates_when_its_assessment_arrives(world: World) -> None:
    model = world.system("limited") + "@1.0"
    lic = world.request(model)
    assert world.approve_all(lic.id).state == "approved"
    assert jobs.run_due_jobs(world.c)["licenses.activate_ready"] == 0
    assess(world, model, blockers=[])
    assert jobs.run_due_jobs(world.c)["licenses.activate_ready"] == 1
    assert world.get(lic.id).state == "active"


def test_periodic_reaudit_overdue_suspends_and_assessment_completes_it(world: World) -> None:
    lid, model = _active(world, kind="limited", days=365)
    system = model.split("@")[0]
    [task] = _tasks(world, system)
    assert task.kind == "periodic" and task.status == "open"
    assert timedelta(days=181) < task.due_at - utcnow() < timedelta(days=183)
    jobs.run_due_jobs(world.c, task.due_at + timedelta(hours=1))
    lic = world.get(lid)
    assert lic.state == "suspended" and lic.reason_category == "reaudit"
    assert [e["task"] for e in _events(world, "reaudit.overdue")] == [task.id]
    # A later blocker-free assessment closes the task and schedules the next one.
    assess(world, model, blockers=[])
    jobs.run_due_jobs(world.c, task.due_at + timedelta(hours=2))
    tasks = _tasks(world, system)
    assert [(t.kind, t.status) for t in tasks] == [("periodic", "done"), ("periodic", "open")]
    # Overdue handling happens once.
    jobs.run_due_jobs(world.c, task.due_at + timedelta(hours=3))
    assert len(_events(world, "reaudit.overdue")) == 1


def test_new_model_version_of_a_licensed_system_gets_a_reaudit(world: World) -> None:
    _, model = _active(world)
    system = model.split("@")[0]
    world.version(system, "2.0")
    jobs.run_due_jobs(world.c)
    jobs.run_due_jobs(world.c)
    new = [t for t in _tasks(world, system) if t.kind == reaudit.NEW_VERSION]
    assert [(t.model_ref, t.status) for t in new] == [(f"{system}@2.0", "open")]
    assess(world, f"{system}@2.0", blockers=[])
    jobs.run_due_jobs(world.c)
    assert [t.status for t in _tasks(world, system) if t.kind == reaudit.NEW_VERSION] == ["done"]


def test_a_license_resting_on_superseded_evidence_is_flagged_for_reaudit(world: World) -> None:
    lid, model = _active(world)
    system = model.split("@")[0]
    assess(world, model, blockers=[])  # the same evidence again: nothing to re-audit
    jobs.run_due_jobs(world.c)
    assert not [t for t in _tasks(world, system) if t.kind == reaudit.STALE_EVIDENCE]
    failed = assess(world, model, blockers=["ETH-DP-DIFF"], evidence="new predictions")
    jobs.run_due_jobs(world.c)
    jobs.run_due_jobs(world.c)  # once per superseding assessment
    stale = [t for t in _tasks(world, system) if t.kind == reaudit.STALE_EVIDENCE]
    assert [(t.license_id, t.model_ref, t.status) for t in stale] == [(lid, model, "open")]
    assert stale[0].reason.startswith(f"assessment {failed} of {model} (FAIL (ETH-DP-DIFF)) supersedes")
    assert timedelta(days=6) < stale[0].due_at - utcnow() <= timedelta(days=7)
    passed = assess(world, model, blockers=[], evidence="fixed predictions")
    jobs.run_due_jobs(world.c)
    stale = [t for t in _tasks(world, system) if t.kind == reaudit.STALE_EVIDENCE]
    assert [t.status for t in stale] == ["done", "open"]  # the pass closes the first and is itself newer evidence
    assert stale[1].reason.startswith(f"assessment {passed} of {model} (pass) supersedes")


def test_manual_reaudit_completion(world: World) -> None:
    _, model = _active(world)
    system = model.split("@")[0]
    [task] = _tasks(world, system)
    with world.c.uow() as uow:
        done = reaudit.complete(uow, world.manager, task.id, "reviewed", catalog.system_resource(uow, system))
    assert done.status == "done" and done.completed_by == world.manager.ref
    with world.c.uow(write=False) as uow:
        assert [t.status for t in reaudit.list_tasks(uow, world.admin, system=system)] == ["done", "open"]


def test_a_job_runs_in_one_process_at_a_time(world: World) -> None:
    now = utcnow()
    assert leases.acquire(world.c.uow, "licenses.expire", now, holder="A")
    assert not leases.acquire(world.c.uow, "licenses.expire", now, holder="B")
    assert jobs.run_due_jobs(world.c, now)["licenses.expire"] == -1
    # A crashed holder's lease runs out.
    assert leases.acquire(world.c.uow, "licenses.expire", now + leases.LEASE + timedelta(seconds=1), holder="B")
    leases.release(world.c.uow, "licenses.expire", now, holder="B")
    assert leases.acquire(world.c.uow, "licenses.expire", now, holder="A")
    leases.release(world.c.uow, "licenses.expire", now, holder="A")
    assert jobs.run_due_jobs(world.c, now)["licenses.expire"] == 0
