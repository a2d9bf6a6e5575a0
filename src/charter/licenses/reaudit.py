"""Re-audit tasks: every licensed system is audited again periodically and whenever it gets a new model version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from charter.auth.authorize import authorize, only_as_caller
from charter.auth.model import Actor, Permission, Resource
from charter.core.clock import isoformat, utcnow
from charter.core.errors import Conflict, ErrorCode, NotFound
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.licenses import policy, repository, webhooks
from charter.licenses.schemas import AuditTaskRead
from charter.licenses.tables import AuditTaskRow
from charter.storage.uow import UnitOfWork

OPEN, DONE = "open", "done"
PERIODIC, NEW_VERSION, STALE_EVIDENCE = "periodic", "new_version", "stale_evidence"
_TASKS = Resource(kind="audit-tasks")


def to_read(row: AuditTaskRow) -> AuditTaskRead:
    return AuditTaskRead.model_validate(row)


def open_tasks(uow: UnitOfWork, system: str | None = None, kind: str | None = None) -> list[AuditTaskRow]:
    stmt = select(AuditTaskRow).where(AuditTaskRow.status == OPEN)
    if system:
        stmt = stmt.where(AuditTaskRow.system == system)
    if kind:
        stmt = stmt.where(AuditTaskRow.kind == kind)
    return list(uow.session.scalars(stmt.order_by(AuditTaskRow.due_at, AuditTaskRow.id)))


def create(
    uow: UnitOfWork,
    *,
    actor_ref: str,
    system: str,
    kind: str,
    due_at: datetime,
    reason: str,
    license_id: str | None = None,
    model_ref: str | None = None,
) -> AuditTaskRow:
    """Add a re-audit task (with its audit entry and a webhook) to this transaction."""
    row = AuditTaskRow(
        id=new_id("task"),
        system=system,
        kind=kind,
        model_ref=model_ref,
        license_id=license_id,
        reason=reason,
        due_at=due_at,
        status=OPEN,
        created_at=utcnow(),
    )
    uow.session.add(row)
    details = {"system": system, "kind": kind, "due_at": isoformat(due_at), "reason": reason, "model": model_ref}
    uow.record(AuditEvent(actor_ref, "reaudit.schedule", f"audit-task:{row.id}", details=details))
    webhooks.enqueue(uow, "reaudit.scheduled", {"task": row.id, **details})
    return row


def ensure_periodic(uow: UnitOfWork, system: str, license_id: str, due_at: datetime) -> AuditTaskRow | None:
    """Schedule the periodic re-audit of `system` unless one is already open."""
    if open_tasks(uow, system, PERIODIC):
        return None
    return create(
        uow,
        actor_ref="system:charter",
        system=system,
        kind=PERIODIC,
        due_at=due_at,
        reason="periodic re-audit of a licensed system",
        license_id=license_id,
    )


def list_tasks(
    uow: UnitOfWork, actor: Actor, *, status: str | None = None, system: str | None = None
) -> list[AuditTaskRead]:
    """Re-audit tasks, soonest due first."""
    authorize(actor, Permission.LICENSE_READ, _TASKS)
    stmt = select(AuditTaskRow)
    if status:
        stmt = stmt.where(AuditTaskRow.status == status)
    if system:
        stmt = stmt.where(AuditTaskRow.system == system)
    if only_as_caller(actor, Permission.LICENSE_READ, _TASKS):  # an app: the tasks of licenses naming it
        mine = [i for i, _, _ in repository.naming_caller(uow, actor.ref)]
        stmt = stmt.where(AuditTaskRow.license_id.in_(mine))
    return [to_read(r) for r in uow.session.scalars(stmt.order_by(AuditTaskRow.due_at, AuditTaskRow.id).limit(1000))]


def finish(uow: UnitOfWork, row: AuditTaskRow, actor_ref: str, note: str, now: datetime) -> None:
    """Mark a task done (in this transaction)."""
    row.status = DONE
    row.completed_at = now
    row.completed_by = actor_ref
    row.note = note
    uow.record(
        AuditEvent(actor_ref, "reaudit.complete", f"audit-task:{row.id}", details={"system": row.system, "note": note})
    )
    webhooks.enqueue(uow, "reaudit.completed", {"task": row.id, "system": row.system, "note": note})
    live = repository.list_rows(uow, states=[s.value for s in repository.LIVE], system=row.system, limit=1)
    if live:
        ensure_periodic(uow, row.system, live[0].id, now + policy.reaudit_interval(policy.licensing(uow)))


def complete(uow: UnitOfWork, actor: Actor, task_id: str, note: str, system_resource: Resource) -> AuditTaskRead:
    """Record that a re-audit was done (LICENSE_MANAGE on the system). Commits."""
    authorize(actor, Permission.LICENSE_MANAGE, system_resource)
    row = uow.session.get(AuditTaskRow, task_id)
    if row is None:
        raise NotFound(
            f"no re-audit task '{task_id}' (see: charter license reaudits)", code=ErrorCode.AUDIT_TASK_NOT_FOUND
        )
    if row.status != OPEN:
        raise Conflict(f"re-audit task {task_id} is already {row.status}", code=ErrorCode.AUDIT_TASK_CLOSED)
    finish(uow, row, actor.ref, note, utcnow())
    out = to_read(row)
    uow.commit()
    return out


def task_system(uow: UnitOfWork, task_id: str) -> str:
    row = uow.session.get(AuditTaskRow, task_id)
    if row is None:
        raise NotFound(
            f"no re-audit task '{task_id}' (see: charter license reaudits)", code=ErrorCode.AUDIT_TASK_NOT_FOUND
        )
    return row.system
