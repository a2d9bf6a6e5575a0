"""Scheduled jobs: expiry, expiry warnings, activation once an assessment arrives, re-audits, status-list
re-signing and webhook delivery. Each job runs in at most one process at a time (a lease row on either backend);
every job is idempotent, so a crashed holder's work is simply redone by the next."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select

from charter.auth.model import SYSTEM_ACTOR
from charter.catalog import service as catalog
from charter.core.clock import as_utc, isoformat, utcnow
from charter.core.errors import CharterError
from charter.core.events import AuditEvent
from charter.evaluation import service as evaluation
from charter.licenses import _lifecycle as lifecycle
from charter.licenses import issuer as signing
from charter.licenses import policy, reaudit, repository, service, webhooks
from charter.licenses.model import LicenseState
from charter.licenses.runtime import Runtime, issuer_for, webhook_target
from charter.licenses.tables import AuditTaskRow, LicenseRow
from charter.storage import leases
from charter.storage.uow import UnitOfWork

log = logging.getLogger("charter.scheduler")


def _ids(runtime: Runtime, *conditions: ColumnElement[bool]) -> list[str]:
    with runtime.uow(write=False) as uow:
        return list(uow.session.scalars(select(LicenseRow.id).where(*conditions).order_by(LicenseRow.id)))


def _each(ids: list[str], work: Callable[[str], bool]) -> int:
    """Run `work` per id in its own transaction; one failure is logged and does not stop the rest."""
    done = 0
    for license_id in ids:
        try:
            done += bool(work(license_id))
        except CharterError as exc:
            log.warning("scheduled work on %s skipped: %s: %s", license_id, exc.code, exc.message)
    return done


def expire_due(runtime: Runtime, now: datetime) -> int:
    """active/suspended licenses whose validity ended → expired."""
    ids = _ids(runtime, LicenseRow.state.in_([s.value for s in repository.LIVE]), LicenseRow.exp <= now)

    def one(license_id: str) -> bool:
        with runtime.uow() as uow:
            return service.expire(uow, SYSTEM_ACTOR, license_id, now) is not None

    return _each(ids, one)


def warn_expiring(runtime: Runtime, now: datetime) -> int:
    """One webhook per license entering the warning window before expiry."""
    ids = _ids(
        runtime,
        LicenseRow.state == LicenseState.ACTIVE,
        LicenseRow.exp <= now + policy.EXPIRY_WARNING,
        LicenseRow.exp > now,
        LicenseRow.expiry_warned_at.is_(None),
    )

    def one(license_id: str) -> bool:
        with runtime.uow() as uow:

            def attempt() -> bool:
                row = repository.get_row(uow, license_id)
                if row.expiry_warned_at is not None:
                    return False
                row.expiry_warned_at = now
                uow.session.flush()
                doc = lifecycle.payload(row, warning="expiring")
                uow.record(AuditEvent(SYSTEM_ACTOR.ref, "license.expiry_warning", f"license:{row.id}", details=doc))
                webhooks.enqueue(uow, "license.expiring", doc)
                return True

            return lifecycle.retrying(uow, license_id, attempt)

    return _each(ids, one)


def activate_ready(runtime: Runtime, now: datetime) -> int:
    """Approved licenses whose assessment has since arrived (without blockers) → active."""
    del now
    ids = _ids(runtime, LicenseRow.state == LicenseState.APPROVED)

    def one(license_id: str) -> bool:
        with runtime.uow() as uow:
            row = repository.get_row(uow, license_id)
            if not lifecycle.requirements(uow, row).ready:
                return False
            service.activate(uow, SYSTEM_ACTOR, license_id)
            return True

    return _each(ids, one)


def _schedule_new_versions(runtime: Runtime, now: datetime) -> int:
    created = 0
    with runtime.uow() as uow:
        live = repository.list_rows(uow, states=[s.value for s in repository.LIVE], limit=100_000)
        by_system: dict[str, list[LicenseRow]] = {}
        for row in live:
            by_system.setdefault(row.system, []).append(row)
        for system, rows in by_system.items():
            since = min(as_utc(r.activated_at or r.created_at) for r in rows)
            licensed = {r.digest for r in rows}
            known = set(
                uow.session.scalars(
                    select(AuditTaskRow.model_ref).where(
                        AuditTaskRow.system == system, AuditTaskRow.kind == reaudit.NEW_VERSION
                    )
                )
            )
            for model_version in catalog.list_model_versions(uow, SYSTEM_ACTOR, system):
                ref = f"{model_version.system}@{model_version.version}"
                if (
                    as_utc(model_version.created_at) > since
                    and model_version.digest not in licensed
                    and ref not in known
                ):
                    reaudit.create(
                        uow,
                        actor_ref=SYSTEM_ACTOR.ref,
                        system=system,
                        kind=reaudit.NEW_VERSION,
                        due_at=now + policy.NEW_VERSION_REAUDIT,
                        reason=f"new model version {ref} of a licensed system",
                        model_ref=ref,
                        license_id=rows[0].id,
                    )
                    created += 1
        uow.commit()
    return created


STALE_FAIL_REAUDIT = timedelta(days=7)  # a license resting on evidence a FAIL superseded is re-audited within this


def _schedule_stale_evidence(runtime: Runtime, now: datetime) -> int:
    """A live license whose assessment is no longer its model version's newest (on other evidence) is flagged for
    re-audit: at once when the newer one failed, within the new-version period otherwise. Once per newer
    assessment."""
    created = 0
    with runtime.uow() as uow:
        live = repository.list_rows(uow, states=[s.value for s in repository.LIVE], limit=100_000)
        for row in live:
            if not row.assessment_id:
                continue
            latest = evaluation.latest_assessment(uow, row.digest)
            rests_on = evaluation.find_assessment(uow, row.assessment_id)
            if latest is None or rests_on is None or latest.id == rests_on.id:
                continue
            newer = as_utc(latest.created_at) > as_utc(rests_on.created_at)
            if latest.evidence_digest == rests_on.evidence_digest or not newer:
                continue
            marker = f"assessment {latest.id} "
            flagged = uow.session.scalars(
                select(AuditTaskRow.reason).where(
                    AuditTaskRow.license_id == row.id, AuditTaskRow.kind == reaudit.STALE_EVIDENCE
                )
            )
            if any(r.startswith(marker) for r in flagged):
                continue
            failed = latest.verdict != "pass"
            verdict = f"FAIL ({', '.join(latest.blockers)})" if failed else "pass"
            reaudit.create(
                uow,
                actor_ref=SYSTEM_ACTOR.ref,
                system=row.system,
                kind=reaudit.STALE_EVIDENCE,
                due_at=now + (STALE_FAIL_REAUDIT if failed else policy.NEW_VERSION_REAUDIT),
                reason=f"{marker}of {row.model_ref} ({verdict}) supersedes assessment {rests_on.id}, which license "
                f"{row.id} rests on",
                model_ref=row.model_ref,
                license_id=row.id,
            )
            created += 1
        uow.commit()
    return created


def _task_digest(uow: UnitOfWork, task: AuditTaskRow) -> str | None:
    if task.model_ref:
        return catalog.get_model_version(uow, task.model_ref).digest
    live = repository.list_rows(uow, states=[s.value for s in repository.LIVE], system=task.system, limit=1)
    return live[0].digest if live else None


def _complete_assessed(runtime: Runtime, now: datetime) -> int:
    """An open task is done once a blocker-free assessment of its model was made after the task was created."""
    done = 0
    with runtime.uow() as uow:
        for task in reaudit.open_tasks(uow):
            digest = _task_digest(uow, task)
            found = evaluation.latest_assessment(uow, digest) if digest else None
            if found is None or found.blockers or as_utc(found.created_at) < as_utc(task.created_at):
                continue
            reaudit.finish(uow, task, SYSTEM_ACTOR.ref, f"assessment {found.id} of {digest} has no blockers", now)
            done += 1
        uow.commit()
    return done


def _overdue(runtime: Runtime, now: datetime) -> int:
    """Open tasks past due: notify once and (by policy) suspend the system's active licenses."""
    with runtime.uow() as uow:
        tasks = [t for t in reaudit.open_tasks(uow) if as_utc(t.due_at) <= now and t.overdue_at is None]
        for task in tasks:
            task.overdue_at = now
            details = {"system": task.system, "due_at": isoformat(task.due_at), "reason": task.reason}
            uow.record(AuditEvent(SYSTEM_ACTOR.ref, "reaudit.overdue", f"audit-task:{task.id}", details=details))
            webhooks.enqueue(uow, "reaudit.overdue", {"task": task.id, **details})
        uow.commit()
    if not policy.REAUDIT_OVERDUE_SUSPENDS:
        return len(tasks)
    for task in tasks:
        ids = _ids(runtime, LicenseRow.system == task.system, LicenseRow.state == LicenseState.ACTIVE)

        def one(license_id: str, task: AuditTaskRow = task) -> bool:
            with runtime.uow() as uow:
                evidence = {"task": task.id, "due_at": isoformat(task.due_at), "reason": task.reason}
                service.suspend(
                    uow, SYSTEM_ACTOR, license_id, f"re-audit {task.id} is overdue", evidence, category="reaudit"
                )
                return True

        _each(ids, one)
    return len(tasks)


def reaudits(runtime: Runtime, now: datetime) -> int:
    """Schedule re-audits for new model versions and licenses resting on superseded evidence, close assessed ones,
    act on overdue ones."""
    scheduled = _schedule_new_versions(runtime, now) + _schedule_stale_evidence(runtime, now)
    return scheduled + _complete_assessed(runtime, now) + _overdue(runtime, now)


def status_list(runtime: Runtime, now: datetime) -> int:
    """Re-sign the status list when the state moved or half its lifetime passed."""
    signing.current_status_list(runtime.uow, issuer_for(runtime), now)
    return 1


def deliver_webhooks(runtime: Runtime, now: datetime) -> int:
    return webhooks.deliver_due(runtime.uow, webhook_target(runtime.settings), now)


def prune(runtime: Runtime, now: datetime) -> int:
    with runtime.uow() as uow:
        n = webhooks.prune(uow, now)
        uow.commit()
    return n


JOBS: dict[str, Callable[[Runtime, datetime], int]] = {
    "licenses.expire": expire_due,
    "licenses.warn_expiring": warn_expiring,
    "licenses.activate_ready": activate_ready,
    "licenses.reaudit": reaudits,
    "licenses.status_list": status_list,
    "licenses.webhooks": deliver_webhooks,
    "licenses.prune": prune,
}


def run_due_jobs(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Run every job this process can take the lease of; returns {job: items handled} (-1: held elsewhere)."""
    now = now or utcnow()
    out: dict[str, int] = {}
    for name, job in JOBS.items():
        if not leases.acquire(runtime.uow, name, now):
            out[name] = -1
            continue
        try:
            out[name] = job(runtime, now)
        except Exception:
            log.exception("scheduled job %s failed", name)
            out[name] = 0
        finally:
            leases.release(runtime.uow, name, now)
    return out
