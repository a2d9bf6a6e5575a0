"""AI system use cases: register through the questionnaire, re-classify, update, list, show.

Every write authorizes first (production systems need senior-engineer through `authorize`), records its
audit event in the same transaction and commits once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from charter.auth.authorize import allowed, authorize
from charter.auth.model import Actor, Permission, Resource
from charter.auth.repository import team_by_name
from charter.catalog.classify import Classification, classify
from charter.catalog.questionnaire import Questionnaire
from charter.catalog.read_models import resource_of, system_read
from charter.catalog.repository import system_by_name
from charter.catalog.schemas import SystemCreate, SystemRead, SystemUpdate
from charter.catalog.tables import SystemRow
from charter.core import thresholds
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.storage.uow import UnitOfWork


def _apply(row: SystemRow, answers: Questionnaire, result: Classification) -> None:
    row.answers = answers.model_dump(mode="json")
    row.classification = result.explanation()
    row.obligations = [o.id for o in result.obligations]
    row.risk_tier = result.tier
    row.gpai = result.gpai
    row.gpai_systemic = result.gpai_systemic
    row.annex_iii_area = result.annex_iii_area
    row.personal_data = answers.data.personal_data or answers.data.special_category_data
    row.special_category_data = answers.data.special_category_data


def _summary(result: Classification) -> dict[str, Any]:
    return {
        "risk_tier": result.tier,
        "gpai": result.gpai,
        "gpai_systemic": result.gpai_systemic,
        "annex_iii_area": result.annex_iii_area,
        "obligations": [o.id for o in result.obligations],
    }


def register_system(uow: UnitOfWork, actor: Actor, data: SystemCreate) -> SystemRead:
    """Register an AI system; its tier and obligations are derived from the questionnaire answers."""
    authorize(actor, Permission.CATALOG_WRITE, Resource("system", data.name, team=data.team, system=data.name))
    if uow.session.scalar(select(SystemRow.id).where(SystemRow.name == data.name)) is not None:
        raise Conflict(f"AI system '{data.name}' already exists", code=ErrorCode.SYSTEM_EXISTS, field="name")
    if data.team:
        team_by_name(uow.session, data.team)
    result = classify(data.answers)
    now = utcnow()
    row = SystemRow(
        id=new_id("sys"),
        name=data.name,
        team=data.team,
        purpose=data.purpose,
        deployer=data.deployer,
        human_oversight=data.human_oversight,
        dpia_reference=data.dpia_reference,
        log_retention_days=data.log_retention_days,
        access_restricted=data.access_restricted,
        production_licensed=False,
        revision=1,
        created_by=actor.ref,
        created_at=now,
        updated_at=now,
    )
    _apply(row, data.answers, result)
    uow.session.add(row)
    try:
        uow.session.flush()
    except IntegrityError:
        raise Conflict(f"AI system '{data.name}' already exists", code=ErrorCode.SYSTEM_EXISTS, field="name") from None
    fields = data.model_dump(mode="json", exclude={"name", "answers"})
    uow.record(
        AuditEvent(
            actor.ref,
            "system.register",
            f"system:{data.name}",
            details={**fields, **_summary(result), "answers": row.answers},
        )
    )
    out = system_read(row)
    uow.commit()
    return out


def classify_system(
    uow: UnitOfWork, actor: Actor, name: str, answers: Questionnaire, *, commit: bool = True
) -> SystemRead:
    """Re-classify a system from new answers; the change (tier, obligations, answers) is audited. With
    `commit=False` the caller commits (licenses withdraws a now-prohibited system's licenses in that transaction)."""
    row = system_by_name(uow.session, name, lock=True)
    authorize(actor, Permission.CATALOG_WRITE, resource_of(row))
    before = {"risk_tier": row.risk_tier, "obligations": list(row.obligations), "answers": dict(row.answers)}
    result = classify(answers)
    _apply(row, answers, result)
    row.revision += 1
    row.updated_at = utcnow()
    added = sorted(set(row.obligations) - set(before["obligations"]))
    removed = sorted(set(before["obligations"]) - set(row.obligations))
    uow.record(
        AuditEvent(
            actor.ref,
            "system.classify",
            f"system:{name}",
            details={
                "risk_tier": [before["risk_tier"], row.risk_tier],
                "obligations_added": added,
                "obligations_removed": removed,
                "answers": row.answers,
                "previous_answers": before["answers"],
                "revision": row.revision,
                "production": row.production_licensed,
            },
        )
    )
    uow.session.flush()
    out = system_read(row)
    if commit:
        uow.commit()
    return out


def update_system(uow: UnitOfWork, actor: Actor, name: str, data: SystemUpdate) -> SystemRead:
    """Change a system's descriptive fields (purpose, team, deployer, oversight, DPIA, log retention, access)."""
    row = system_by_name(uow.session, name, lock=True)
    authorize(actor, Permission.CATALOG_WRITE, resource_of(row))
    changes: dict[str, list[Any]] = {}
    for field in sorted(data.model_fields_set):
        new = getattr(data, field)
        if field in ("purpose", "access_restricted", "thresholds") and new is None:
            continue
        if field == "thresholds":
            new = _tightened(dict(row.thresholds or {}), new)
        old = getattr(row, field)
        if old != new:
            changes[field] = [old, new]
    if "team" in changes:
        if data.team:
            team_by_name(uow.session, data.team)
        target = Resource("system", name, team=data.team, system=name, production=row.production_licensed)
        authorize(actor, Permission.CATALOG_WRITE, target)
    if changes:
        for field, (_, new) in changes.items():
            setattr(row, field, new)
        row.revision += 1
        row.updated_at = utcnow()
        uow.record(
            AuditEvent(
                actor.ref,
                "system.update",
                f"system:{name}",
                details={"changes": changes, "revision": row.revision, "production": row.production_licensed},
            )
        )
        uow.session.flush()
    out = system_read(row)
    uow.commit()
    return out


def _tightened(current: dict[str, float], update: dict[str, float | None]) -> dict[str, float] | None:
    """The system's threshold overrides after `update` (null removes one); 422 for unknown or looser values."""
    found = thresholds.problems(update)
    if found:
        field, message = found[0]
        raise InvalidInput(f"{field}: {message}", field=field)
    for name, value in update.items():
        if value is None:
            current.pop(name, None)
        else:
            current[name] = float(value)
    return current or None


def show_system(uow: UnitOfWork, actor: Actor, name: str) -> SystemRead:
    """One system with its answers, tier reasons and explained obligations."""
    row = system_by_name(uow.session, name)
    authorize(actor, Permission.CATALOG_READ, resource_of(row))
    return system_read(row)


def list_systems(
    uow: UnitOfWork, actor: Actor, *, team: str | None = None, tier: str | None = None
) -> list[SystemRead]:
    """Systems the actor may read, optionally by team and risk tier."""
    stmt = select(SystemRow).order_by(SystemRow.name)
    if team:
        stmt = stmt.where(SystemRow.team == team)
    if tier:
        stmt = stmt.where(SystemRow.risk_tier == tier)
    rows = uow.session.scalars(stmt)
    return [system_read(r) for r in rows if allowed(actor, Permission.CATALOG_READ, resource_of(r))]
