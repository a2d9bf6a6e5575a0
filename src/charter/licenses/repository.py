"""License queries and the shared counters. Never commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, func, select, text, update

from charter.core.errors import ErrorCode, NotFound
from charter.licenses.model import LicenseIndexEntry, LicenseState, status_value
from charter.licenses.schemas import LicenseRead
from charter.licenses.tables import LicenseMetaRow, LicenseRow
from charter.storage.uow import UnitOfWork

LIVE = (LicenseState.ACTIVE, LicenseState.SUSPENDED)
NOTIFY_CHANNEL = "charter_license_state"


def get_row(uow: UnitOfWork, license_id: str) -> LicenseRow:
    """The license row, freshly read from the database; NotFound (license_not_found) otherwise."""
    row = uow.session.scalar(
        select(LicenseRow).where(LicenseRow.id == license_id).execution_options(populate_existing=True)
    )
    if row is None:
        raise not_found(license_id)
    return row


def not_found(license_id: str) -> NotFound:
    """The answer for a license that does not exist, or that the caller may not know exists."""
    return NotFound(f"no license with id '{license_id}' (see: charter license list)", code=ErrorCode.LICENSE_NOT_FOUND)


def naming_caller(uow: UnitOfWork, caller: str) -> list[tuple[str, str, str]]:
    """(id, digest, env) of every license, in any state, that names `caller` (app:NAME) as a caller."""
    rows = uow.session.execute(select(LicenseRow.id, LicenseRow.digest, LicenseRow.env, LicenseRow.callers))
    return [(i, d, e) for i, d, e, callers in rows.tuples() if caller in (callers or ())]


def _meta(uow: UnitOfWork) -> LicenseMetaRow:
    row = uow.session.get(LicenseMetaRow, 1, populate_existing=True)
    if row is None:
        row = LicenseMetaRow(id=1, state_version=0, next_index=0)
        uow.session.add(row)
        uow.session.flush()
    return row


def bump_state_version(uow: UnitOfWork) -> int:
    """Raise the license state version by one in this transaction (an atomic UPDATE); return the new value."""
    _meta(uow)
    uow.session.execute(
        update(LicenseMetaRow).where(LicenseMetaRow.id == 1).values(state_version=LicenseMetaRow.state_version + 1)
    )
    value = int(uow.session.scalar(select(LicenseMetaRow.state_version).where(LicenseMetaRow.id == 1)) or 0)
    if uow.dialect == "postgresql":
        # Delivered to LISTENers on commit only, so gateways never see a version that rolled back.
        uow.session.execute(text("SELECT pg_notify(:c, :v)"), {"c": NOTIFY_CHANNEL, "v": str(value)})
    return value


def allocate_status_index(uow: UnitOfWork) -> int:
    """The next free status-list index (never reused)."""
    _meta(uow)
    uow.session.execute(
        update(LicenseMetaRow).where(LicenseMetaRow.id == 1).values(next_index=LicenseMetaRow.next_index + 1)
    )
    return int(uow.session.scalar(select(LicenseMetaRow.next_index).where(LicenseMetaRow.id == 1)) or 0) - 1


def fence_version(conn: Connection) -> int:
    """The license state version on a bare connection: the audit writer's fence for gateway allow entries."""
    value = conn.exec_driver_sql("SELECT state_version FROM license_meta WHERE id = 1").scalar()
    return int(value or 0)


def state_version(uow: UnitOfWork) -> int:
    value = uow.session.scalar(select(LicenseMetaRow.state_version).where(LicenseMetaRow.id == 1))
    return int(value or 0)


def status_values(uow: UnitOfWork) -> dict[int, int]:
    """`{status_index: state}` rows for every license that ever held an index."""
    rows = uow.session.execute(
        select(LicenseRow.status_index, LicenseRow.state).where(LicenseRow.status_index.is_not(None))
    ).tuples()
    return {int(idx): status_value(LicenseState(state)) for idx, state in rows if idx is not None}


def production_holders(uow: UnitOfWork, system: str, *, excluding: str) -> int:
    """How many other live production licenses the system holds."""
    stmt = select(func.count()).where(
        LicenseRow.system == system,
        LicenseRow.env == "production",
        LicenseRow.state.in_([s.value for s in LIVE]),
        LicenseRow.id != excluding,
    )
    return int(uow.session.scalar(stmt) or 0)


def list_rows(
    uow: UnitOfWork,
    *,
    states: Iterable[str] = (),
    system: str | None = None,
    digest: str | None = None,
    env: str | None = None,
    expiring_before: datetime | None = None,
    limit: int = 500,
) -> list[LicenseRow]:
    stmt = select(LicenseRow)
    states = list(states)
    if states:
        stmt = stmt.where(LicenseRow.state.in_(states))
    if system:
        stmt = stmt.where(LicenseRow.system == system)
    if digest:
        stmt = stmt.where(LicenseRow.digest == digest)
    if env:
        stmt = stmt.where(LicenseRow.env == env)
    if expiring_before is not None:
        stmt = stmt.where(LicenseRow.exp.is_not(None), LicenseRow.exp <= expiring_before)
    return list(uow.session.scalars(stmt.order_by(LicenseRow.created_at.desc(), LicenseRow.id.desc()).limit(limit)))


def to_read(row: LicenseRow) -> LicenseRead:
    return LicenseRead.model_validate(row)


def index_entry(row: LicenseRow) -> LicenseIndexEntry:
    assert row.nbf is not None and row.exp is not None
    return LicenseIndexEntry(
        license_id=row.id,
        digest=row.digest,
        system=row.system,
        model_version=row.model_version,
        env=row.env,
        purposes=tuple(row.purposes),
        callers=tuple(row.callers),
        tools=tuple(row.tools),
        regions=tuple(row.regions),
        nbf=row.nbf,
        exp=row.exp,
        state=row.state,
        risk_tier=row.risk_tier,
        conditions=tuple(row.conditions),
        tool_rules=tuple(row.tool_rules or ()),
        version=row.version,
        status_index=row.status_index,
    )
