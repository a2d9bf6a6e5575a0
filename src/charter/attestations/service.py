"""Attest a control for a system (who, evidence sha256 and file, validity), and each control's status per system.

Status of a control for a system (framework `eu-ai-act` by default):
- `attested`: a current attestation exists;
- `expired`: the latest attestation has run out (red, like `missing`);
- `auto_checked`: a rule of an active policy maps to it (the policy evaluation checks it);
- `missing`: it applies, no rule checks it and nobody attested it (red);
- `not_applicable`: it does not apply to the system's answers, with why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import timedelta

from sqlalchemy import select

from charter.attestations.schemas import (
    MAX_STORED,
    AttestationCreate,
    AttestationRead,
    ControlsStatus,
    ControlState,
)
from charter.attestations.tables import AttestationRow
from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission
from charter.catalog import documents
from charter.catalog.classify import classify, not_applicable
from charter.catalog.questionnaire import Questionnaire
from charter.catalog.read_models import resource_of
from charter.catalog.repository import system_by_name
from charter.catalog.tables import ModelVersionRow
from charter.core.clock import utcnow
from charter.core.errors import InvalidInput
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.policies.catalogs import builtin_catalog
from charter.policies.service import active_policies
from charter.storage.uow import UnitOfWork

RED = ("missing", "expired")


def to_read(row: AttestationRow) -> AttestationRead:
    return AttestationRead(
        id=row.id,
        system=row.system,
        control=row.control_id,
        statement=row.statement,
        attested_by=row.attested_by,
        evidence_name=row.evidence_name,
        evidence_sha256=row.evidence_sha256,
        evidence_size=row.evidence_size,
        evidence_stored=row.evidence is not None,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        expired=utcnow() >= row.valid_until,
        created_at=row.created_at,
    )


def _digest(value: str) -> str:
    return value if value.startswith("sha256:") else f"sha256:{value}"


def attest(uow: UnitOfWork, actor: Actor, system: str, data: AttestationCreate) -> AttestationRead:
    """Record an attestation of `data.control` for `system`; the evidence's hash is checked when the file is sent."""
    row_system = system_by_name(uow.session, system)
    authorize(actor, Permission.CONTROL_ATTEST, resource_of(row_system))
    control = builtin_catalog().get(data.control)
    skipped = not_applicable(Questionnaire.model_validate(row_system.answers))
    if control.id in skipped:
        raise InvalidInput(
            f"{control.id} does not apply to system {system}: {skipped[control.id]}; nothing to attest",
            field="control",
        )
    digest = _digest(data.evidence_sha256)
    blob: bytes | None = None
    if data.evidence_b64 is not None:
        try:
            blob = base64.b64decode(data.evidence_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("evidence_b64 is not valid base64", field="evidence_b64") from None
        if len(blob) > MAX_STORED:
            raise InvalidInput(f"evidence file over {MAX_STORED} bytes: send its hash only", field="evidence_b64")
        actual = "sha256:" + hashlib.sha256(blob).hexdigest()
        if actual != digest or len(blob) != data.evidence_size:
            raise InvalidInput(
                f"evidence file does not match evidence_sha256/evidence_size (got {actual}, {len(blob)} bytes)",
                field="evidence_sha256",
            )
    now = utcnow()
    row = AttestationRow(
        id=new_id("att"),
        system_id=row_system.id,
        system=row_system.name,
        control_id=control.id,
        statement=data.statement,
        attested_by=actor.ref,
        evidence_name=data.evidence_name,
        evidence_sha256=digest,
        evidence_size=data.evidence_size,
        evidence=blob,
        valid_from=now,
        valid_until=now + timedelta(days=data.valid_days),
        created_at=now,
    )
    uow.session.add(row)
    uow.record(
        AuditEvent(
            actor.ref,
            "control.attest",
            f"system:{row.system}",
            details={
                "attestation": row.id,
                "control": row.control_id,
                "evidence_sha256": digest,
                "evidence_name": row.evidence_name,
                "valid_until": row.valid_until.isoformat(),
            },
        )
    )
    uow.commit()
    return to_read(row)


def latest(uow: UnitOfWork, system: str) -> dict[str, AttestationRow]:
    """The newest attestation of each control of a system."""
    rows = uow.session.scalars(
        select(AttestationRow).where(AttestationRow.system == system).order_by(AttestationRow.created_at)
    )
    return {r.control_id: r for r in rows}


def list_attestations(uow: UnitOfWork, actor: Actor, system: str) -> list[AttestationRead]:
    row_system = system_by_name(uow.session, system)
    authorize(actor, Permission.CATALOG_READ, resource_of(row_system))
    rows = uow.session.scalars(
        select(AttestationRow).where(AttestationRow.system == system).order_by(AttestationRow.created_at.desc())
    )
    return [to_read(r) for r in rows]


def status(uow: UnitOfWork, actor: Actor, system: str, *, framework: str = "eu-ai-act") -> ControlsStatus:
    """Every control of `framework` for `system`: auto-checked, attested, expired, missing or not applicable."""
    row_system = system_by_name(uow.session, system)
    authorize(actor, Permission.CATALOG_READ, resource_of(row_system))
    catalog = builtin_catalog()
    fw = catalog.framework(framework)
    answers = Questionnaire.model_validate(row_system.answers)
    applies = {o.id: o.why for o in classify(answers).obligations}  # today's catalog, not the stored copy
    skipped = not_applicable(answers)
    rules: dict[str, list[str]] = {}
    for policy in active_policies(uow):
        for rule in policy.rules:
            for ref in rule.controls:
                found = catalog.find(ref)
                if found is not None:
                    rules.setdefault(found.id, []).append(f"{policy.name}/{rule.id}")
    attested = latest(uow, system)
    newest = uow.session.scalar(
        select(ModelVersionRow.version)
        .where(ModelVersionRow.system_id == row_system.id)
        .order_by(ModelVersionRow.created_at.desc())
        .limit(1)
    )
    docs: dict[str, str] = {}
    for kind, control_id in documents.CONTROL.items():
        doc = documents.current(uow, row_system, kind, newest) if newest else None
        if doc is not None:
            docs[control_id] = f"{kind} revision {doc.revision} for {system}@{newest} by {doc.created_by}"
        elif newest:
            docs[control_id] = ""
    now = utcnow()
    items: list[ControlState] = []
    for control in fw.controls:
        att = attested.get(control.id)
        att_read = to_read(att) if att is not None else None
        if control.id not in applies:
            state, why = "not_applicable", skipped.get(control.id, "not among the system's obligations")
        elif docs.get(control.id):
            state, why = "attested", f"documented: {docs[control.id]}"
        elif control.id in docs:
            state, why = (
                "missing",
                (
                    f"no {documents.ARTICLE[documents.FRIA if control.id == 'EUAIA-ART27' else documents.PLAN]} "
                    f"document for {system}@{newest} (a model update re-opens it)"
                ),
            )
        elif att is not None and att.valid_until > now:
            state, why = "attested", f"attested by {att.attested_by} until {att.valid_until:%Y-%m-%d}"
        elif att is not None:
            state, why = "expired", f"attestation by {att.attested_by} expired on {att.valid_until:%Y-%m-%d}"
        elif control.id in rules:
            state, why = "auto_checked", "checked by " + ", ".join(rules[control.id])
        else:
            state, why = "missing", f"applies ({applies[control.id]}); no rule checks it and nobody attested it"
        items.append(
            ControlState(
                id=control.id,
                ref=control.ref,
                title=control.title,
                legal_status=control.legal.status,
                status=state,
                ok=state not in RED,
                why=why,
                rules=rules.get(control.id, []),
                attestation=att_read,
            )
        )
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status] = counts.get(item.status, 0) + 1
    return ControlsStatus(system=system, framework=fw.id, tier=row_system.risk_tier, counts=counts, controls=items)


def blockers(uow: UnitOfWork, system: str, *, expired_block: bool, required: tuple[str, ...]) -> list[str]:
    """Why a license of `system` may not be activated or renewed for its attestations: each expired attestation
    of a control that applies (when `expired_block`), and each `required` control that applies without a current
    one; every entry names the control and the command that fixes it."""
    if not expired_block and not required:
        return []
    row_system = system_by_name(uow.session, system)
    applies = {o.id for o in classify(Questionnaire.model_validate(row_system.answers)).obligations}
    attested = latest(uow, system)
    now = utcnow()
    out: list[str] = []
    fix = "charter attest {c} --system " + system + " --evidence FILE --valid-days DAYS"
    for control_id, att in sorted(attested.items()):
        if expired_block and control_id in applies and att.valid_until <= now:
            out.append(
                f"attestation {control_id}: expired on {att.valid_until:%Y-%m-%d} (attested by {att.attested_by}); "
                f"attest it again: {fix.format(c=control_id)}"
            )
    for control_id in required:
        found = attested.get(control_id)
        if control_id not in applies or (found is not None and found.valid_until > now):
            continue
        if found is None or not expired_block:  # an expired one is named above when expired attestations block
            what = "none recorded" if found is None else f"expired on {found.valid_until:%Y-%m-%d}"
            out.append(
                f"attestation {control_id}: required by the licensing policy, {what}; {fix.format(c=control_id)}"
            )
    return out
