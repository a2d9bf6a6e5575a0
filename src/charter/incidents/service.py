"""Report, list, show and close serious incidents (EU AI Act Art. 73).

Reporting computes the deadline (Art. 73(2)-(4), counted per Reg. 1182/71 Art. 3) and names the authority
(Art. 73(1)); with `suspend`, every active license of the system is suspended through the license service (the
same audited transition as `charter license suspend`, so gateways stop serving within a second).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from charter.auth.authorize import allowed, authorize
from charter.auth.model import Actor, Permission
from charter.catalog.read_models import resource_of
from charter.catalog.repository import system_by_name
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput, NotFound
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.incidents import deadline
from charter.incidents.schemas import IncidentClose, IncidentCreate, IncidentRead
from charter.incidents.tables import IncidentRow
from charter.licenses import repository as licenses_repo
from charter.licenses import service as licenses
from charter.licenses.model import LicenseState
from charter.storage.uow import UnitOfWork

# Where the AI Act applies: the EU Member States (Greece as GR or, as EU texts write it, EL) and the EEA states.
MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO".split()
)
IN_FORCE = datetime(2024, 8, 1, tzinfo=UTC)  # Art. 113: the AI Act's entry into force
DEFAULT_AUTHORITY = "market surveillance authority of the Member State where the incident occurred (Art. 73(1))"
OPEN, CLOSED = "open", "closed"


def authority_for(member_state: str | None, configured: str | None) -> str:
    """Who receives the report: the configured authority, else the market surveillance authority (Art. 73(1))."""
    if configured:
        return f"{configured} (Art. 73(1))"
    if member_state:
        return f"market surveillance authority of {member_state}, where the incident occurred (Art. 73(1))"
    return DEFAULT_AUTHORITY


def to_read(row: IncidentRow) -> IncidentRead:
    return IncidentRead(
        id=row.id,
        system=row.system,
        kind=deadline.Kind(row.kind),
        widespread=row.widespread,
        description=row.description,
        member_state=row.member_state,
        aware_at=row.aware_at,
        period_days=row.period_days,
        article=row.article,
        last_day=row.last_day,
        due_at=row.due_at,
        deadline_note=row.deadline_note,
        authority=row.authority,
        status=row.status,
        overdue=row.status == OPEN and utcnow() >= row.due_at,
        suspended_licenses=list(row.suspended_licenses),
        reported_by=row.reported_by,
        created_at=row.created_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        closing_note=row.closing_note,
    )


def report(
    uow: UnitOfWork,
    actor: Actor,
    system: str,
    data: IncidentCreate,
    *,
    holidays: frozenset[date] = frozenset(),
    authority: str | None = None,
) -> IncidentRead:
    """Record a serious incident with its reporting deadline; optionally suspend the system's active licenses."""
    row_system = system_by_name(uow.session, system)
    resource = resource_of(row_system)
    authorize(actor, Permission.MONITOR_WRITE, resource)
    if data.suspend:
        authorize(actor, Permission.LICENSE_MANAGE, resource)
    now = utcnow()
    zone = _zone(data.time_zone) if data.time_zone is not None else None
    aware = data.aware_at
    if aware.tzinfo is None and zone is not None:
        aware = aware.replace(tzinfo=zone)  # a local time where the period is counted (summer time applied)
    if aware.tzinfo is None:
        raise InvalidInput(
            f"aware_at {aware.isoformat()} has no time zone: the period ends at midnight where you are, so "
            "give the offset, e.g. 2026-12-04T16:00+01:00 (or Z for UTC), or --time-zone (e.g. Europe/Berlin)",
            field="aware_at",
        )
    if data.member_state is not None and data.member_state not in MEMBER_STATES:
        raise InvalidInput(
            f"member_state {data.member_state} is not an EU/EEA Member State code (e.g. DE, FR, EL; Art. 73(1))",
            field="member_state",
        )
    if aware < IN_FORCE:
        raise InvalidInput(
            f"aware_at {aware.isoformat()} is before Regulation (EU) 2024/1689 entered into force (2024-08-01)",
            field="aware_at",
        )
    if aware > now:
        raise InvalidInput(f"aware_at {aware.isoformat()} is in the future", field="aware_at")
    if zone is not None:
        aware = aware.astimezone(zone)  # the same instant; midnight where the period is counted
    rule = deadline.rule_for(data.kind, widespread=data.widespread)
    due = deadline.compute(aware, rule, holidays)
    row = IncidentRow(
        id=new_id("inc"),
        system_id=row_system.id,
        system=row_system.name,
        kind=data.kind.value,
        widespread=data.widespread,
        description=data.description,
        member_state=data.member_state,
        aware_at=aware,
        period_days=rule.days,
        article=rule.article,
        last_day=due.last_day,
        due_at=due.due_at,
        deadline_note=due.explain(),
        authority=authority_for(data.member_state, authority)
        + (
            "; if the system is built on your own general-purpose AI model (Art. 75(1)), the AI Office instead "
            "(Art. 75(1a))"
            if row_system.gpai
            else ""
        ),
        status=OPEN,
        suspended_licenses=[],
        reported_by=actor.ref,
        created_at=now,
        facts={
            "risk_tier": row_system.risk_tier,
            "annex_iii_area": row_system.annex_iii_area,
            "deployer": row_system.deployer,
            "purpose": row_system.purpose,
            "time_zone": data.time_zone,
        },
    )
    uow.session.add(row)
    uow.record(
        AuditEvent(
            actor.ref,
            "incident.report",
            f"system:{row.system}",
            details={
                "incident": row.id,
                "kind": row.kind,
                "widespread": row.widespread,
                "aware_at": aware.isoformat(),
                "due_at": row.due_at.isoformat(),
                "article": row.article,
                "authority": row.authority,
                "suspend": data.suspend,
            },
        )
    )
    uow.commit()
    if data.suspend:
        suspended = []
        live = licenses_repo.list_rows(uow, states=[LicenseState.ACTIVE.value], system=row.system)
        for lic in live:
            licenses.suspend(
                uow,
                actor,
                lic.id,
                f"serious incident {row.id} ({row.kind}, {row.article})",
                evidence={"incident": row.id, "kind": row.kind},
                category="incident",
            )
            suspended.append(lic.id)
        fresh = _row(uow, row.id)
        fresh.suspended_licenses = suspended
        uow.commit()
        row = fresh
    return to_read(row)


def _row(uow: UnitOfWork, incident_id: str) -> IncidentRow:
    row = uow.session.get(IncidentRow, incident_id)
    if row is None:
        raise NotFound(f"no incident '{incident_id}' (charter incident list)", code=ErrorCode.INCIDENT_NOT_FOUND)
    return row


def get(uow: UnitOfWork, actor: Actor, incident_id: str) -> IncidentRead:
    row = _row(uow, incident_id)
    authorize(actor, Permission.MONITOR_READ, resource_of(system_by_name(uow.session, row.system)))
    return to_read(row)


def list_all(
    uow: UnitOfWork, actor: Actor, *, status: str | None = None, system: str | None = None
) -> list[IncidentRead]:
    """Incidents the actor may read, soonest deadline first."""
    if status not in (None, OPEN, CLOSED):
        raise InvalidInput(f"status must be '{OPEN}' or '{CLOSED}', not '{status}'", field="status")
    stmt = select(IncidentRow)
    if status:
        stmt = stmt.where(IncidentRow.status == status)
    if system:
        system_by_name(uow.session, system)  # a mistyped name is a 404, not an empty list
        stmt = stmt.where(IncidentRow.system == system)
    out: list[IncidentRead] = []
    resources: dict[str, bool] = {}
    for row in uow.session.scalars(stmt.order_by(IncidentRow.due_at, IncidentRow.id)):
        if row.system not in resources:
            resources[row.system] = allowed(
                actor, Permission.MONITOR_READ, resource_of(system_by_name(uow.session, row.system))
            )
        if resources[row.system]:
            out.append(to_read(row))
    return out


def close(uow: UnitOfWork, actor: Actor, incident_id: str, data: IncidentClose) -> IncidentRead:
    """Close an incident (reported to the authority and handled); audited."""
    row = _row(uow, incident_id)
    authorize(actor, Permission.MONITOR_WRITE, resource_of(system_by_name(uow.session, row.system)))
    if row.status == CLOSED:
        raise Conflict(f"incident {incident_id} is already closed", code=ErrorCode.INCIDENT_CLOSED)
    row.status = CLOSED
    row.closed_at = utcnow()
    row.closed_by = actor.ref
    row.closing_note = data.note
    uow.record(
        AuditEvent(
            actor.ref,
            "incident.close",
            f"system:{row.system}",
            details={"incident": row.id, "note": data.note, "overdue": row.closed_at >= row.due_at},
        )
    )
    uow.commit()
    return to_read(row)


def _zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (e.g. Europe/Berlin), or a 422 naming the field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"time_zone '{name[:64]}' is not an IANA time zone; give one such as Europe/Berlin or Europe/Paris",
            field="time_zone",
        ) from None
