"""Retiring a model version: the catalog marks it retired and every license it still has is revoked, in one
transaction. Gateways refuse its calls from the next state version on (`license_revoked`), offline verifiers from
the next status list; a retired version can never be licensed again (`model_retired`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission
from charter.catalog import service as catalog
from charter.core.errors import Conflict, ErrorCode
from charter.core.events import AuditEvent
from charter.licenses import _lifecycle as lifecycle
from charter.licenses.model import FINAL, LicenseState, Transition
from charter.licenses.schemas import ModelRetired
from charter.licenses.tables import LicenseRow
from charter.storage.uow import UnitOfWork


def retire(uow: UnitOfWork, actor: Actor, ref: str, reason: str) -> ModelRetired:
    """Retire `SYSTEM@VERSION` and revoke its licenses; all or nothing (a 403 on one license changes nothing)."""
    version = catalog.retire_model_version(uow, actor, ref, reason)
    open_states = [s.value for s in LicenseState if s not in FINAL]
    revoked = []
    why = f"model version {version.ref} retired: {reason}"
    try:  # flushes happen inside the loop too (queries autoflush), not only at the commit
        rows = uow.session.scalars(
            select(LicenseRow)
            .where(LicenseRow.model_version_id == version.id, LicenseRow.state.in_(open_states))
            .order_by(LicenseRow.created_at)
        ).all()
        for row in rows:
            authorize(actor, Permission.LICENSE_MANAGE, lifecycle.resource(uow, row))
            lifecycle.change(uow, actor, row, Transition.REVOKE, reason=why, details={"retired": version.ref})
            lifecycle.release_production(uow, actor, row)
            revoked.append(row.id)
        details = {"reason": reason, "revoked": revoked}
        uow.record(AuditEvent(actor.ref, "model.retire", f"model:{version.ref}", details=details))
        uow.commit()
    except (StaleDataError, DBAPIError) as exc:
        if not lifecycle.retryable(exc):
            raise
        raise Conflict(
            f"a license of {version.ref} changed while it was being retired; run the command again",
            code=ErrorCode.LICENSE_CONFLICT,
        ) from None
    return ModelRetired(model=version, revoked=revoked)
