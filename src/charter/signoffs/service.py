"""Sign-off use cases: record a decision (with separation of duties), list and tally decisions.

The caller (licenses) owns the transaction and commits; these functions only add to it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission, Resource
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.signoffs.model import Decision, SignOff, SubjectRef, Tally, check_eligible, tally
from charter.signoffs.schemas import SignOffRead
from charter.signoffs.tables import SignOffRow
from charter.storage.uow import UnitOfWork


def _rows(uow: UnitOfWork, subject: SubjectRef, *, all_stages: bool = False) -> list[SignOffRow]:
    stmt = select(SignOffRow).where(SignOffRow.subject_kind == subject.kind, SignOffRow.subject_id == subject.id)
    if not all_stages:
        stmt = stmt.where(SignOffRow.stage == subject.stage)
    return list(uow.session.scalars(stmt.order_by(SignOffRow.created_at, SignOffRow.id)))


def _model(row: SignOffRow) -> SignOff:
    return SignOff(row.function, Decision(row.decision), row.principal_id, row.principal, row.comment, row.created_at)


def _read(row: SignOffRow) -> SignOffRead:
    return SignOffRead(
        id=row.id,
        subject=f"{row.subject_kind}:{row.subject_id}",
        stage=row.stage,
        function=row.function,
        decision=Decision(row.decision),
        principal=row.principal,
        comment=row.comment,
        created_at=row.created_at,
    )


def record(
    uow: UnitOfWork,
    actor: Actor,
    *,
    subject: SubjectRef,
    function: str,
    decision: Decision,
    comment: str,
    required: tuple[str, ...],
    requester_id: str,
    resource: Resource,
    permission: Permission = Permission.LICENSE_SIGNOFF,
) -> SignOffRead:
    """Record one reviewer decision for `subject` at its stage; does not commit."""
    authorize(actor, permission, resource, function=function)
    existing = [_model(r) for r in _rows(uow, subject)]
    check_eligible(
        subject=subject,
        required=required,
        existing=existing,
        principal_id=actor.id,
        requester_id=requester_id,
        function=function,
    )
    row = SignOffRow(
        id=new_id("so"),
        subject_kind=subject.kind,
        subject_id=subject.id,
        subject_digest=subject.digest,
        stage=subject.stage,
        function=function,
        decision=decision,
        principal_id=actor.id,
        principal=actor.ref,
        comment=comment,
        created_at=utcnow(),
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(row)
    except IntegrityError:
        # A concurrent transaction recorded the same person or function first.
        raise Conflict(
            f"{subject.ref} got a concurrent sign-off for {function} or from {actor.ref}; reload and retry",
            code=ErrorCode.SIGNOFF_CONFLICT,
        ) from None
    uow.record(
        AuditEvent(
            actor.ref,
            f"signoff.{decision}",
            subject.ref,
            details={"function": function, "stage": subject.stage, "digest": subject.digest, "comment": comment},
        )
    )
    return _read(row)


def signoffs_for(uow: UnitOfWork, subject: SubjectRef, *, all_stages: bool = False) -> list[SignOffRead]:
    """Decisions recorded for `subject` (its stage only unless `all_stages`), oldest first."""
    return [_read(r) for r in _rows(uow, subject, all_stages=all_stages)]


def tally_for(uow: UnitOfWork, subject: SubjectRef, required: tuple[str, ...]) -> Tally:
    """Approved, rejected and missing functions of `subject` at its stage."""
    return tally(required, (_model(r) for r in _rows(uow, subject)))
