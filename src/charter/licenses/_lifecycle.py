"""The mechanics every license use case shares: optimistic locking with retry, state changes with their audit
entry, counter bump and notification, and the activation requirements."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from charter.attestations import service as attestations
from charter.auth.model import Actor, Resource
from charter.catalog import documents
from charter.catalog import service as catalog
from charter.core.clock import as_utc, isoformat, utcnow
from charter.core.errors import CharterError, Conflict, ErrorCode, ErrorKind
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.evaluation import service as evaluation
from charter.licenses import policy, reaudit, repository, webhooks
from charter.licenses.model import LicenseState, Transition, next_state
from charter.licenses.tables import LicenseRow
from charter.signoffs import service as signoffs
from charter.signoffs.model import SubjectRef, Tally
from charter.storage.uow import UnitOfWork

log = logging.getLogger("charter.licenses")
T = TypeVar("T")
MAX_ATTEMPTS = 6
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


class SystemProhibited(CharterError):
    """A prohibited system (EU AI Act Art. 5) can never be licensed."""

    kind = ErrorKind.FAILED
    code = ErrorCode.SYSTEM_PROHIBITED


def prohibited_error(system: str) -> SystemProhibited:
    return SystemProhibited(
        f"system {system} is classified prohibited (EU AI Act Art. 5): it can never be licensed",
        details={"system": system, "risk_tier": "prohibited"},
    )


@dataclass(frozen=True, slots=True)
class Classification:
    """The system's classification now, and what the licensing policy derives from it."""

    tier: str
    personal_data: bool
    required: tuple[str, ...]
    cap_days: int | None  # None for a prohibited system


def classification(uow: UnitOfWork, system: str) -> Classification:
    """Re-read the system: its current tier, personal-data flag, required sign-offs and validity cap."""
    current = catalog.get_system(uow, system)
    if current.risk_tier == "prohibited":
        return Classification(current.risk_tier, current.personal_data, (), None)
    rules = policy.licensing(uow)
    required = rules.required_signoffs(current.risk_tier, personal_data=current.personal_data)
    return Classification(
        current.risk_tier, current.personal_data, required, rules.max_validity_days(current.risk_tier)
    )


def licensable(uow: UnitOfWork, row: LicenseRow) -> Classification:
    """The current classification of the license's system; SystemProhibited when it is prohibited now."""
    found = classification(uow, row.system)
    if found.cap_days is None:
        raise prohibited_error(row.system)
    return found


def adopt(row: LicenseRow, now: Classification) -> dict[str, list[Any]]:
    """Bring the license's tier, personal-data flag and (at the issue stage) required sign-offs to the current
    classification, and its validity within the current cap; returns what changed (for the audit entry)."""
    changes: dict[str, list[Any]] = {}
    if row.risk_tier != now.tier:
        changes["risk_tier"] = [row.risk_tier, now.tier]
        row.risk_tier = now.tier
    if row.personal_data != now.personal_data:
        changes["personal_data"] = [row.personal_data, now.personal_data]
        row.personal_data = now.personal_data
    if row.stage == "issue" and list(row.required_signoffs) != list(now.required):
        changes["required_signoffs"] = [list(row.required_signoffs), list(now.required)]
        row.required_signoffs = list(now.required)
    if now.cap_days is not None and row.days > now.cap_days:
        changes["days"] = [row.days, now.cap_days]
        row.days = now.cap_days
    return changes


def retryable(exc: Exception) -> bool:
    """A lost optimistic lock, or a serialization failure or deadlock the database asks to retry."""
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES
    return False


def retrying(uow: UnitOfWork, license_id: str, attempt: Callable[[], T]) -> T:
    """Run `attempt` in a savepoint and commit; when a concurrent change wins the optimistic lock, re-read and
    retry (a few times), then give up with 409 `license_conflict`. The caller's other work in `uow` is kept."""
    for n in range(MAX_ATTEMPTS):
        try:
            with uow.session.begin_nested():
                out = attempt()
        except (StaleDataError, DBAPIError) as exc:
            if not retryable(exc):
                raise
            log.info("license %s changed concurrently (%s); retry %d", license_id, type(exc).__name__, n + 1)
            time.sleep(random.uniform(0, 0.01 * 2**n))
            continue
        uow.commit()
        return out
    raise Conflict(
        f"license {license_id} kept changing concurrently; reload it (charter license show {license_id}) and retry",
        code=ErrorCode.LICENSE_CONFLICT,
    )


def check_version(row: LicenseRow, expected: int | None) -> None:
    if expected is not None and row.version != expected:
        raise Conflict(
            f"license {row.id} is at version {row.version}, not {expected}: it changed since you read it",
            code=ErrorCode.LICENSE_CONFLICT,
            details={"version": row.version, "expected": expected},
        )


def resource(uow: UnitOfWork, row: LicenseRow) -> Resource:
    """The license as an authorization resource: scoped like its system."""
    current = catalog.system_resource(uow, row.system)
    return Resource(
        kind="license", name=row.id, team=current.team, system=current.system, production=current.production
    )


def touch(uow: UnitOfWork, row: LicenseRow) -> int:
    """Take the optimistic lock (UPDATE … WHERE version = v) and raise the state version."""
    row.updated_at = utcnow()
    uow.session.flush()
    return repository.bump_state_version(uow)


def payload(row: LicenseRow, **extra: Any) -> dict[str, Any]:
    """Webhook/audit payload describing a license."""
    doc: dict[str, Any] = {
        "license": row.id,
        "state": row.state,
        "version": row.version,
        "model": row.model_ref,
        "digest": row.digest,
        "system": row.system,
        "env": row.env,
        "exp": isoformat(row.exp) if row.exp else None,
    }
    doc.update(extra)
    return doc


def change(
    uow: UnitOfWork,
    actor: Actor,
    row: LicenseRow,
    transition: Transition,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Apply one state transition: optimistic lock, counter, audit entry, webhook; all in this transaction.

    The webhook's after-commit hook also wakes in-process listeners (`notify`)."""
    before = LicenseState(row.state)
    row.state = next_state(before, transition, row.id)
    if reason is not None:
        row.reason = reason
    state_version = touch(uow, row)
    info = {"from": before, "to": row.state, "version": row.version, "state_version": state_version}
    info.update(details or {})
    if reason is not None:
        info["reason"] = reason
    uow.record(AuditEvent(actor.ref, f"license.{transition}", f"license:{row.id}", details=info))
    webhooks.enqueue(
        uow, f"license.{transition}", payload(row, actor=actor.ref, **{k: v for k, v in info.items() if k != "version"})
    )


def reinstatement_stage(row: LicenseRow) -> str:
    n = int(row.stage.rsplit("-", 1)[1]) + 1 if row.stage.startswith("reinstate-") else 1
    return f"reinstate-{n}"


def stage_required(uow: UnitOfWork, row: LicenseRow) -> tuple[str, ...]:
    """Functions that must sign at the license's current stage: at issue, those the system's *current* tier and
    personal-data flag require (a reclassification after the request counts), never fewer than requested."""
    if row.stage == "issue":
        if LicenseState(row.state) not in (LicenseState.REQUESTED, LicenseState.APPROVED):
            return tuple(row.required_signoffs)
        now = classification(uow, row.system)
        return now.required if now.cap_days is not None else tuple(row.required_signoffs)
    return policy.licensing(uow).reinstatement_functions(row.reason_category)


def subject(row: LicenseRow) -> SubjectRef:
    return SubjectRef("license", row.id, row.digest, row.stage)


@dataclass(frozen=True, slots=True)
class Requirements:
    tally: Tally
    assessment: dict[str, Any] | None
    missing: list[str]

    @property
    def ready(self) -> bool:
        return not self.missing


def assessment_summary(uow: UnitOfWork, digest: str) -> tuple[dict[str, Any] | None, str | None]:
    """The latest assessment of `digest` and, when it does not allow licensing, why."""
    found = evaluation.latest_assessment(uow, digest)
    if found is None:
        return None, f"assessment: none for {digest} yet (run: charter evaluate SYSTEM@VERSION …)"
    blockers = list(found.blockers)
    doc = {
        "id": found.id,
        "verdict": str(found.verdict),
        "blockers": blockers,
        "created_at": isoformat(found.created_at),
    }
    if blockers:
        return doc, f"assessment {found.id} has blockers: {', '.join(blockers)}"
    return doc, None


def requirements(uow: UnitOfWork, row: LicenseRow) -> Requirements:
    """Sign-offs of the current stage and the assessment: what is still missing."""
    required = stage_required(uow, row)
    tally = signoffs.tally_for(uow, subject(row), required)
    missing = [f"signoff: {fn}" for fn in tally.missing]
    missing += [f"rejected by {who} ({fn})" for fn, who in tally.rejected.items()]
    assessment, problem = assessment_summary(uow, row.digest)
    if problem:
        missing.append(problem)
    if classification(uow, row.system).cap_days is None:
        missing.append(f"system {row.system} is classified prohibited (EU AI Act Art. 5): it can never be licensed")
    rules = policy.licensing(uow)
    if rules.obligation_documents:
        missing += documents.missing_for(uow, row.system, row.model_version, rules.obligation_documents)
    missing += attestation_blockers(uow, row.system)
    return Requirements(tally, assessment, missing)


def attestation_blockers(uow: UnitOfWork, system: str) -> list[str]:
    """Expired (and, per the licensing policy's tier list, missing) attestations that block activation/renewal."""
    rules = policy.licensing(uow)
    tier = classification(uow, system).tier
    return attestations.blockers(
        uow, system, expired_block=rules.expired_attestations_block, required=rules.attestations_required(tier)
    )


def activate(uow: UnitOfWork, actor: Actor, row: LicenseRow, req: Requirements, now: datetime | None = None) -> None:
    """approved → active: validity window, status index, token id, catalog lock and production flag. The system is
    re-read first: prohibited now is refused; tier, sign-offs and validity cap follow its current classification,
    and the token carries the tier at activation."""
    reclassified = adopt(row, licensable(uow, row))
    now = now or utcnow()
    row.activated_at = now
    row.nbf = now
    row.exp = now + timedelta(days=row.days)
    row.status_index = repository.allocate_status_index(uow)
    row.token_id = new_id("tok")
    row.assessment_id = req.assessment["id"] if req.assessment else None
    change(
        uow,
        actor,
        row,
        Transition.ACTIVATE,
        details={
            "nbf": isoformat(now),
            "exp": isoformat(row.exp),
            "status_index": row.status_index,
            "assessment": row.assessment_id,
            "jti": row.token_id,
            "conditions_digest": row.conditions_digest,
            "risk_tier": row.risk_tier,
            **({"reclassified": reclassified} if reclassified else {}),
        },
    )
    catalog.lock_model_version(uow, row.model_ref, actor=actor.ref)
    if row.env == "production":
        catalog.set_production_licensed(uow, row.system, True, actor=actor.ref)
    reaudit.ensure_periodic(uow, row.system, row.id, now + policy.reaudit_interval(policy.licensing(uow)))


def release_production(uow: UnitOfWork, actor: Actor, row: LicenseRow) -> None:
    """After revoke/expire: the system no longer holds a production license unless another one is live."""
    if row.env == "production" and repository.production_holders(uow, row.system, excluding=row.id) == 0:
        catalog.set_production_licensed(uow, row.system, False, actor=actor.ref)


def expired(row: LicenseRow, now: datetime) -> bool:
    return row.exp is not None and as_utc(row.exp) <= now
