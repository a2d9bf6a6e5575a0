"""License use cases: request, sign off, activate, suspend, reinstate, revoke, renew, read, check; plus the
gateway's index. Each state-changing function authorizes first, writes its audit entry in the same transaction
and commits once (retrying when a concurrent change wins the optimistic lock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from charter.auth.authorize import allowed, authorize, authorize_any, only_as_caller
from charter.auth.model import SYSTEM_ACTOR, Actor, Permission, Resource
from charter.auth.repository import principal_by_ref
from charter.catalog import service as catalog
from charter.catalog.questionnaire import Questionnaire
from charter.catalog.schemas import SystemRead
from charter.core.clock import as_utc, isoformat, utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.evaluation import service as evaluation
from charter.licenses import _lifecycle as lifecycle
from charter.licenses import conditions as cond
from charter.licenses import policy, repository, toolrules, webhooks
from charter.licenses.issuer import Issuer, token_for
from charter.licenses.model import LicenseIndexEntry, LicenseState, StateAction, Transition
from charter.licenses.profile_columns import profile_columns
from charter.licenses.schemas import (
    CheckResult,
    LicenseCreate,
    LicenseRead,
    LicenseStatus,
    RenewCreate,
    StateChange,
    TokenRead,
)
from charter.licenses.tables import LicenseRow
from charter.signoffs import service as signoffs
from charter.signoffs.model import Decision
from charter.signoffs.schemas import SignOffCreate
from charter.storage.uow import UnitOfWork

SystemProhibited = lifecycle.SystemProhibited
WITHDRAWABLE = (LicenseState.REQUESTED, LicenseState.APPROVED, LicenseState.ACTIVE, LicenseState.SUSPENDED)


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _callers(uow: UnitOfWork, callers: list[str]) -> list[str]:
    out = []
    for ref in _dedupe(callers):
        if not ref.startswith("app:"):
            raise InvalidInput(
                f"caller '{ref}' must be an app: app:NAME (create one: charter app add NAME)", field="callers"
            )
        principal_by_ref(uow.session, ref)
        out.append(ref)
    return out


def request(uow: UnitOfWork, actor: Actor, data: LicenseCreate, *, renews: str | None = None) -> LicenseRead:
    """Ask for a license; computes the required sign-offs from policy and notifies reviewers."""
    model_version = catalog.get_model_version(uow, data.model)
    authorize(actor, Permission.LICENSE_REQUEST, catalog.system_resource(uow, model_version.system))
    if model_version.retired_at is not None:
        raise catalog.retired_error(model_version.ref, model_version.retired_at)
    system = catalog.get_system(uow, model_version.system)
    if system.risk_tier == "prohibited":
        raise lifecycle.prohibited_error(system.name)
    rules = policy.licensing(uow)
    rules.check_validity(system.risk_tier, data.days)
    required = rules.required_signoffs(system.risk_tier, personal_data=system.personal_data)
    purposes = _dedupe(data.purposes)
    restricted = sorted(set(purposes) & set(model_version.restricted_purposes))
    if restricted:
        raise InvalidInput(
            f"{model_version.system}@{model_version.version} may not be used for {', '.join(restricted)} "
            "(restricted by its model card or license)",
            code=ErrorCode.PURPOSE_RESTRICTED,
            field="purposes",
        )
    parsed = cond.validate(data.conditions, profile_columns(uow, model_version.digest))
    now = utcnow()
    row = LicenseRow(
        id=new_id("lic"),
        system=model_version.system,
        model_ref=f"{model_version.system}@{model_version.version}",
        model_version=model_version.version,
        model_version_id=model_version.id,
        digest=model_version.digest,
        env=data.env,
        purposes=purposes,
        callers=_callers(uow, data.callers),
        tools=_dedupe(data.tools),
        tool_rules=toolrules.parse(data.tool_conditions, data.approvals, _dedupe(data.tools)),
        regions=_dedupe(data.regions),
        conditions=parsed,
        conditions_digest=cond.conditions_digest(parsed),
        days=data.days,
        risk_tier=system.risk_tier,
        personal_data=system.personal_data,
        required_signoffs=list(required),
        policy_digest=rules.digest,
        state=LicenseState.REQUESTED,
        stage="issue",
        requested_by_id=actor.id,
        requested_by=actor.ref,
        renews=renews,
        created_at=now,
        updated_at=now,
    )
    return _create(uow, actor, row, "license.renew" if renews else "license.request")


def _create(uow: UnitOfWork, actor: Actor, row: LicenseRow, action: str) -> LicenseRead:
    uow.session.add(row)
    uow.session.flush()
    state_version = repository.bump_state_version(uow)
    details = {
        "model": row.model_ref,
        "digest": row.digest,
        "env": row.env,
        "purposes": row.purposes,
        "callers": row.callers,
        "tools": row.tools,
        "tool_rules": row.tool_rules,
        "regions": row.regions,
        "days": row.days,
        "conditions": row.conditions,
        "conditions_digest": row.conditions_digest,
        "required_signoffs": row.required_signoffs,
        "risk_tier": row.risk_tier,
        "policy_digest": row.policy_digest,
        "renews": row.renews,
        "state_version": state_version,
    }
    uow.record(AuditEvent(actor.ref, action, f"license:{row.id}", details=details))
    webhooks.enqueue(
        uow,
        "license.signoff_requested",
        lifecycle.payload(row, required_signoffs=row.required_signoffs, requested_by=actor.ref),
    )
    out = repository.to_read(row)
    uow.commit()
    return out


def sign(uow: UnitOfWork, actor: Actor, license_id: str, data: SignOffCreate) -> LicenseStatus:
    """Approve or reject as a reviewer function; the last approval activates the license when it can."""

    def attempt() -> None:
        row = repository.get_row(uow, license_id)
        res = lifecycle.resource(uow, row)
        authorize(actor, Permission.LICENSE_SIGNOFF, res, function=data.function)
        state = LicenseState(row.state)
        if state not in (LicenseState.REQUESTED, LicenseState.APPROVED, LicenseState.SUSPENDED):
            raise Conflict(
                f"license {row.id} is {state}: sign-offs are taken while requested (or suspended, to reinstate)",
                code=ErrorCode.LICENSE_NOT_AWAITING_SIGNOFF,
            )
        lifecycle.licensable(uow, row)  # re-read the system: prohibited now is refused
        if (
            state is LicenseState.APPROVED
            and data.function
            not in signoffs.tally_for(uow, lifecycle.subject(row), lifecycle.stage_required(uow, row)).missing
        ):
            raise Conflict(
                f"license {row.id} is approved: only a sign-off its system's current tier newly requires is taken",
                code=ErrorCode.LICENSE_NOT_AWAITING_SIGNOFF,
            )
        lifecycle.touch(uow, row)
        signoffs.record(
            uow,
            actor,
            subject=lifecycle.subject(row),
            function=data.function,
            decision=data.decision,
            comment=data.comment,
            required=lifecycle.stage_required(uow, row),
            requester_id=row.requested_by_id,
            resource=res,
        )
        if state is LicenseState.SUSPENDED:
            webhooks.enqueue(
                uow,
                "license.reinstatement_signoff",
                lifecycle.payload(row, function=data.function, decision=data.decision, by=actor.ref),
            )
            return
        if data.decision is Decision.REJECT:
            if state is LicenseState.REQUESTED:
                lifecycle.change(
                    uow, actor, row, Transition.REJECT, reason=data.comment or f"rejected by {data.function}"
                )
            return  # an approved license with a rejection recorded cannot activate (requirements list it)
        req = lifecycle.requirements(uow, row)
        if req.tally.complete:
            if state is LicenseState.REQUESTED:
                lifecycle.change(uow, actor, row, Transition.APPROVE, details={"approved": req.tally.approved})
            if req.ready:
                lifecycle.activate(uow, actor, row, req)

    lifecycle.retrying(uow, license_id, attempt)
    return status(uow, actor, license_id)


def activate(uow: UnitOfWork, actor: Actor, license_id: str) -> LicenseRead:
    """Activate an approved license once its assessment arrived; 409 with what is missing otherwise."""

    def attempt() -> LicenseRead:
        row = repository.get_row(uow, license_id)
        authorize(actor, Permission.LICENSE_REQUEST, lifecycle.resource(uow, row))
        if LicenseState(row.state) is not LicenseState.APPROVED:
            if LicenseState(row.state) is LicenseState.ACTIVE:
                return repository.to_read(row)
            req = lifecycle.requirements(uow, row) if LicenseState(row.state) is LicenseState.REQUESTED else None
            raise Conflict(
                f"license {row.id} is {row.state}, not approved"
                + (f"; missing: {'; '.join(req.missing)}" if req and req.missing else ""),
                code=ErrorCode.LICENSE_REQUIREMENTS_UNMET if req else ErrorCode.LICENSE_INVALID_TRANSITION,
                details={"missing": req.missing if req else []},
            )
        lifecycle.licensable(uow, row)  # re-read the system: prohibited now is refused
        req = lifecycle.requirements(uow, row)
        if not req.ready:
            raise Conflict(
                f"license {row.id} cannot be activated yet; missing: {'; '.join(req.missing)}",
                code=ErrorCode.LICENSE_REQUIREMENTS_UNMET,
                details={"missing": req.missing},
            )
        lifecycle.activate(uow, actor, row, req)
        return repository.to_read(row)

    return lifecycle.retrying(uow, license_id, attempt)


def suspend(
    uow: UnitOfWork,
    actor: Actor,
    license_id: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
    *,
    category: str | None = None,
    expected_version: int | None = None,
) -> LicenseRead:
    """active → suspended (by a license manager, or SYSTEM_ACTOR for monitoring/scheduler with evidence)."""

    def attempt() -> LicenseRead:
        row = repository.get_row(uow, license_id)
        authorize(actor, Permission.LICENSE_MANAGE, lifecycle.resource(uow, row))
        lifecycle.check_version(row, expected_version)
        row.reason_category = policy.suspension_category(category, evidence)
        row.evidence = evidence
        row.stage = lifecycle.reinstatement_stage(row)
        lifecycle.change(
            uow,
            actor,
            row,
            Transition.SUSPEND,
            reason=reason,
            details={"category": row.reason_category, "evidence": evidence, "reinstatement_stage": row.stage},
        )
        return repository.to_read(row)

    return lifecycle.retrying(uow, license_id, attempt)


def reinstate(
    uow: UnitOfWork, actor: Actor, license_id: str, reason: str, *, expected_version: int | None = None
) -> LicenseRead:
    """suspended → active, once the policy's reinstatement sign-offs are in and the assessment still passes."""

    def attempt() -> LicenseRead:
        row = repository.get_row(uow, license_id)
        authorize(actor, Permission.LICENSE_MANAGE, lifecycle.resource(uow, row))
        lifecycle.check_version(row, expected_version)
        details: dict[str, Any] = {"stage": row.stage}
        if LicenseState(row.state) is LicenseState.SUSPENDED:
            if lifecycle.expired(row, utcnow()):
                raise Conflict(
                    f"license {row.id} expired at {row.exp}; renew it instead", code=ErrorCode.LICENSE_EXPIRED
                )
            current = lifecycle.licensable(uow, row)  # re-read the system: prohibited now is refused
            reclassified = lifecycle.adopt(row, current)
            if current.cap_days is not None and row.nbf is not None and row.exp is not None:
                capped = as_utc(row.nbf) + timedelta(days=current.cap_days)
                if as_utc(row.exp) > capped:
                    reclassified["exp"] = [isoformat(row.exp), isoformat(capped)]
                    row.exp = capped
            if reclassified:
                details["reclassified"] = reclassified
            req = lifecycle.requirements(uow, row)
            if not req.ready:
                raise Conflict(
                    f"license {row.id} cannot be reinstated yet; missing: {'; '.join(req.missing)} "
                    f"(reviewers sign with: charter license approve {row.id} --as FUNCTION)",
                    code=ErrorCode.LICENSE_REQUIREMENTS_UNMET,
                    details={"missing": req.missing, "stage": row.stage},
                )
        lifecycle.change(uow, actor, row, Transition.REINSTATE, reason=reason, details=details)
        row.reason_category = None
        row.evidence = None
        return repository.to_read(row)

    return lifecycle.retrying(uow, license_id, attempt)


def revoke(
    uow: UnitOfWork,
    actor: Actor,
    license_id: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
    *,
    expected_version: int | None = None,
) -> LicenseRead:
    """Withdraw a license for good (revoked is final)."""

    def attempt() -> LicenseRead:
        row = repository.get_row(uow, license_id)
        authorize(actor, Permission.LICENSE_MANAGE, lifecycle.resource(uow, row))
        lifecycle.check_version(row, expected_version)
        row.evidence = evidence
        lifecycle.change(uow, actor, row, Transition.REVOKE, reason=reason, details={"evidence": evidence})
        lifecycle.release_production(uow, actor, row)
        return repository.to_read(row)

    return lifecycle.retrying(uow, license_id, attempt)


def change_state(uow: UnitOfWork, actor: Actor, license_id: str, action: StateAction, data: StateChange) -> LicenseRead:
    """Suspend, reinstate or revoke from one request body."""
    match action:
        case StateAction.SUSPEND:
            return suspend(
                uow,
                actor,
                license_id,
                data.reason,
                data.evidence,
                category=data.category,
                expected_version=data.expected_version,
            )
        case StateAction.REINSTATE:
            return reinstate(uow, actor, license_id, data.reason, expected_version=data.expected_version)
        case StateAction.REVOKE:
            return revoke(uow, actor, license_id, data.reason, data.evidence, expected_version=data.expected_version)
    raise InvalidInput(f"unknown license action '{action}': suspend, reinstate or revoke", field="action")


def expire(uow: UnitOfWork, actor: Actor, license_id: str, now: datetime | None = None) -> LicenseRead | None:
    """active/suspended → expired once `exp` passed (the scheduler's job); None when nothing was due."""
    now = now or utcnow()

    def attempt() -> LicenseRead | None:
        row = repository.get_row(uow, license_id)
        authorize(actor, Permission.LICENSE_MANAGE, lifecycle.resource(uow, row))
        if LicenseState(row.state) not in repository.LIVE or not lifecycle.expired(row, now):
            return None
        lifecycle.change(uow, actor, row, Transition.EXPIRE, reason="validity ended")
        lifecycle.release_production(uow, actor, row)
        return repository.to_read(row)

    return lifecycle.retrying(uow, license_id, attempt)


def renew(uow: UnitOfWork, actor: Actor, license_id: str, data: RenewCreate) -> LicenseRead:
    """Request a new license with the same model, scope and conditions, linked to the old one (fresh sign-offs)."""
    old = repository.get_row(uow, license_id)
    authorize(actor, Permission.LICENSE_REQUEST, lifecycle.resource(uow, old))
    if LicenseState(old.state) not in (LicenseState.ACTIVE, LicenseState.SUSPENDED, LicenseState.EXPIRED):
        raise Conflict(
            f"license {old.id} is {old.state}: only active, suspended or expired licenses renew",
            code=ErrorCode.LICENSE_NOT_RENEWABLE,
        )
    blocked = lifecycle.attestation_blockers(uow, old.system)
    if blocked:
        raise Conflict(
            f"license {old.id} cannot be renewed; missing: {'; '.join(blocked)}",
            code=ErrorCode.LICENSE_REQUIREMENTS_UNMET,
            details={"missing": blocked},
        )
    current = lifecycle.classification(uow, old.system)
    days = data.days or old.days
    if not data.days and current.cap_days is not None:
        days = min(days, current.cap_days)  # the old validity, within the current tier's cap
    again = LicenseCreate(
        model=old.model_ref,
        env=old.env,
        purposes=old.purposes,
        callers=old.callers,
        tools=old.tools,
        tool_conditions=toolrules.render(old.tool_rules or [])[0],
        approvals=toolrules.render(old.tool_rules or [])[1],
        regions=old.regions,
        days=days,
        conditions=[cond.render(c) for c in old.conditions],
    )
    return request(uow, actor, again, renews=old.id)


def _readable(uow: UnitOfWork, actor: Actor, license_id: str) -> LicenseRow:
    """The license, if `actor` may read it. An app reads only the licenses naming it as a caller: any other answers
    404, as one that does not exist."""
    row = repository.get_row(uow, license_id)
    res = lifecycle.resource(uow, row)
    authorize(actor, Permission.LICENSE_READ, res)
    if only_as_caller(actor, Permission.LICENSE_READ, res) and actor.ref not in row.callers:
        raise repository.not_found(license_id)
    return row


def get(uow: UnitOfWork, actor: Actor, license_id: str) -> LicenseRead:
    """One license."""
    return repository.to_read(_readable(uow, actor, license_id))


def status(uow: UnitOfWork, actor: Actor, license_id: str) -> LicenseStatus:
    """State, sign-offs of the current stage, the assessment, and the list of what is missing."""
    row = _readable(uow, actor, license_id)
    req = lifecycle.requirements(uow, row)
    state = LicenseState(row.state)
    awaiting = state in (LicenseState.REQUESTED, LicenseState.APPROVED, LicenseState.SUSPENDED)
    return LicenseStatus(
        id=row.id,
        state=state,
        version=row.version,
        stage=row.stage,
        required_signoffs=list(req.tally.required),
        approved=req.tally.approved,
        rejected=req.tally.rejected,
        missing_signoffs=list(req.tally.missing),
        assessment=req.assessment,
        missing=req.missing if awaiting else [],
        ready=req.ready and awaiting,
        signoffs=signoffs.signoffs_for(uow, lifecycle.subject(row), all_stages=True),
    )


def list_licenses(
    uow: UnitOfWork,
    actor: Actor,
    *,
    state: str | None = None,
    system: str | None = None,
    expiring_within: timedelta | None = None,
) -> list[LicenseRead]:
    """Licenses, newest first; `expiring_within` keeps live ones whose validity ends within that time."""
    authorize_any(actor, Permission.LICENSE_READ)
    states = [state] if state else []
    if state and state not in {s.value for s in LicenseState}:
        raise InvalidInput(f"unknown state '{state}'; one of {', '.join(s.value for s in LicenseState)}", field="state")
    before = None
    if expiring_within is not None:
        before = utcnow() + expiring_within
        states = states or [s.value for s in repository.LIVE]
    rows = repository.list_rows(uow, states=states, system=system, expiring_before=before)
    scopes: dict[str, Resource] = {}
    out = []
    for row in rows:
        if row.system not in scopes:
            scopes[row.system] = catalog.system_resource(uow, row.system)
        if not allowed(actor, Permission.LICENSE_READ, scopes[row.system]):
            continue
        if only_as_caller(actor, Permission.LICENSE_READ, scopes[row.system]) and actor.ref not in row.callers:
            continue  # an app lists the licenses naming it, no others
        out.append(repository.to_read(row))
    return out


def caller_scope(uow: UnitOfWork, caller: str) -> frozenset[tuple[str, str]]:
    """(digest, env) pairs of every license, in any state, that names `caller` (app:NAME): the deployments an app
    may see are those of these model digests in these environments."""
    return frozenset((digest, env) for _, digest, env in repository.naming_caller(uow, caller))


def token(uow: UnitOfWork, actor: Actor, license_id: str, issuer: Issuer) -> TokenRead:
    """The signed license token of an active (or suspended) license."""
    row = _readable(uow, actor, license_id)
    if LicenseState(row.state) not in repository.LIVE:
        raise Conflict(
            f"license {row.id} is {row.state}: only active licenses have a token", code=ErrorCode.LICENSE_NOT_ACTIVE
        )
    signer = catalog.model_signer(uow, row.model_version_id)
    return TokenRead(
        license=row.id, token=token_for(issuer, row, model_signer=signer, evidence=evidence_claim(uow, row))
    )


def evidence_claim(uow: UnitOfWork, row: LicenseRow) -> dict[str, Any] | None:
    """What the token says about the evidence: the assessment it rests on and the sha256 of its evidence document."""
    found = evaluation.find_assessment(uow, row.assessment_id) if row.assessment_id else None
    if found is None:
        return None
    return {
        "assessment": found.id,
        "digest": "sha256:" + found.evidence_digest.removeprefix("sha256:"),
        "computed_by": found.computed_by,
        "self_reported": found.self_reported,
    }


def check(uow: UnitOfWork, actor: Actor, model: str, env: str, purpose: str | None = None) -> CheckResult:
    """Does an active license cover MODEL@VERSION in `env` (for `purpose`) now? With the reasons if not."""
    model_version = catalog.get_model_version(uow, model)
    res = catalog.system_resource(uow, model_version.system)
    authorize(actor, Permission.LICENSE_READ, res)
    now = utcnow()
    rows = repository.list_rows(uow, digest=model_version.digest, env=env)
    if only_as_caller(actor, Permission.LICENSE_READ, res):  # an app weighs, and is told of, its own licenses only
        rows = [r for r in rows if actor.ref in r.callers]
    reasons: list[str] = []
    for row in rows:
        state = LicenseState(row.state)
        if state is LicenseState.ACTIVE and row.nbf and row.exp and as_utc(row.nbf) <= now < as_utc(row.exp):
            if purpose is None or purpose in row.purposes:
                return CheckResult(
                    allowed=True,
                    model=model,
                    digest=model_version.digest,
                    env=env,
                    purpose=purpose,
                    license=row.id,
                    exp=row.exp,
                    reasons=[],
                )
            reasons.append(f"license {row.id} is active but covers purposes {', '.join(row.purposes)}, not {purpose}")
        elif state is LicenseState.ACTIVE:
            reasons.append(f"license {row.id} is outside its validity ({row.nbf} – {row.exp})")
        elif state in (LicenseState.REQUESTED, LicenseState.APPROVED):
            missing = lifecycle.requirements(uow, row).missing
            reasons.append(f"license {row.id} is {state}; missing: {'; '.join(missing) or 'activation'}")
        else:
            why = f" ({row.reason})" if row.reason else ""
            reasons.append(f"license {row.id} is {state}{why}")
    if not rows:
        reasons.append(
            f"no license for {model} ({model_version.digest}) in {env}; "
            f"request one: charter license request {model} --env {env} …"
        )
    return CheckResult(
        allowed=False, model=model, digest=model_version.digest, env=env, purpose=purpose, reasons=reasons
    )


def active_index(uow: UnitOfWork) -> list[LicenseIndexEntry]:
    """Every active or suspended license, for the gateway's in-memory index (no authorization: internal)."""
    rows = repository.list_rows(uow, states=[s.value for s in repository.LIVE], limit=1_000_000)
    return [repository.index_entry(r) for r in rows]


def state_version(uow: UnitOfWork) -> int:
    """Rises with every license change (committed); the gateway reloads its index when it moves."""
    return repository.state_version(uow)


def reclassify(uow: UnitOfWork, actor: Actor, name: str, answers: Questionnaire) -> SystemRead:
    """Re-classify a system (catalog) and, when it is prohibited now, withdraw its licenses in the same transaction:
    every requested, approved, active or suspended license is revoked by `system:charter`, audited with the tier
    change and who made it. Other tier changes take effect at the next sign-off, activation, renewal or
    reinstatement, which re-read the system."""
    out = catalog.classify_system(uow, actor, name, answers, commit=False)
    if out.risk_tier == "prohibited":
        rows = repository.list_rows(uow, states=[s.value for s in WITHDRAWABLE], system=name, limit=1_000_000)
        for row in rows:
            reason = f"system {name} reclassified prohibited (EU AI Act Art. 5) by {actor.ref}"
            details = {"cause": "system_prohibited", "reclassified_by": actor.ref, "risk_tier": "prohibited"}
            lifecycle.change(uow, SYSTEM_ACTOR, row, Transition.REVOKE, reason=reason, details=details)
            lifecycle.release_production(uow, SYSTEM_ACTOR, row)
    uow.commit()
    return out
