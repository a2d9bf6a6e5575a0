"""Monitoring queries and upserts. Takes a unit of work; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from charter.core.clock import utcnow
from charter.core.errors import ErrorCode, NotFound
from charter.core.ids import new_id
from charter.monitoring.tables import CheckRow, MetricRow, ProfileRow, WindowHistoryRow, WindowPartRow, WindowRow
from charter.storage.uow import UnitOfWork


def profile_row(uow: UnitOfWork, digest: str) -> ProfileRow | None:
    return uow.session.scalar(select(ProfileRow).where(ProfileRow.digest == digest))


def require_profile(uow: UnitOfWork, digest: str, ref: str) -> ProfileRow:
    row = profile_row(uow, digest)
    if row is None:
        raise NotFound(
            f"{ref} has no reference profile yet; upload one: charter monitor reference {ref} FILE",
            code=ErrorCode.PROFILE_NOT_FOUND,
        )
    return row


def profiles_of(uow: UnitOfWork, system: str | None = None) -> list[ProfileRow]:
    stmt = select(ProfileRow).order_by(ProfileRow.system, ProfileRow.model_ref)
    if system is not None:
        stmt = stmt.where(ProfileRow.system == system)
    return list(uow.session.scalars(stmt))


def window_digests(uow: UnitOfWork, system: str) -> list[str]:
    """Digests of the system that have windows (with or without a reference profile)."""
    stmt = select(WindowRow.digest).where(WindowRow.system == system).distinct().order_by(WindowRow.digest)
    return list(uow.session.scalars(stmt))


def fingerprints(uow: UnitOfWork) -> dict[str, str]:
    """`{digest: fingerprint}` of every profile (what capture processes poll to notice a new profile)."""
    return dict(uow.session.execute(select(ProfileRow.digest, ProfileRow.fingerprint)).tuples().all())


def _insert(uow: UnitOfWork, table: Any) -> Any:
    return postgresql.insert(table) if uow.dialect == "postgresql" else sqlite.insert(table)


def lock_window(uow: UnitOfWork, profile: ProfileRow, env: str, start: datetime, end: datetime) -> WindowRow:
    """The window row of (digest, env, start, end), created empty if new, locked for this transaction (PostgreSQL:
    FOR UPDATE; SQLite: the write transaction already holds the database lock), so merges never interleave."""
    return lock_window_of(
        uow,
        digest=profile.digest,
        env=env,
        system=profile.system,
        model_ref=profile.model_ref,
        fingerprint=profile.fingerprint,
        start=start,
        end=end,
    )


def lock_window_of(
    uow: UnitOfWork,
    *,
    digest: str,
    env: str,
    system: str,
    model_ref: str,
    fingerprint: str,
    start: datetime,
    end: datetime,
) -> WindowRow:
    """`lock_window` for a digest that may have no reference profile (gateway signals of an LLM deployment)."""
    now = utcnow()
    values = {
        "id": new_id("win"),
        "digest": digest,
        "env": env,
        "system": system,
        "model_ref": model_ref,
        "start": start,
        "end": end,
        "fingerprint": fingerprint,
        "rows": 0,
        "sketch": {},
        "metrics": {},
        "report": {},
        "status": "insufficient",
        "sources": [],
        "created_at": now,
        "updated_at": now,
    }
    uow.session.execute(_insert(uow, WindowRow).values(**values).on_conflict_do_nothing())
    stmt = select(WindowRow).where(
        WindowRow.digest == digest, WindowRow.env == env, WindowRow.start == start, WindowRow.end == end
    )
    row = uow.session.scalar(stmt.with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row


def parts_of(uow: UnitOfWork, window_id: str) -> list[WindowPartRow]:
    stmt = select(WindowPartRow).where(WindowPartRow.window_id == window_id).order_by(WindowPartRow.source)
    return list(uow.session.scalars(stmt.execution_options(populate_existing=True)))


def drop_parts(uow: UnitOfWork, parts: Sequence[WindowPartRow]) -> None:
    for part in parts:
        uow.session.delete(part)
    uow.session.flush()


def replace_metrics(uow: UnitOfWork, window: WindowRow, values: dict[str, float | None]) -> None:
    uow.session.execute(delete(MetricRow).where(MetricRow.window_id == window.id))
    uow.session.add_all(
        MetricRow(window_id=window.id, metric=m, digest=window.digest, window_end=window.end, value=v)
        for m, v in values.items()
    )


def window_by_id(uow: UnitOfWork, window_id: str) -> WindowRow:
    row = uow.session.get(WindowRow, window_id)
    if row is None:
        raise NotFound(f"no monitoring window '{window_id[:60]}'", code=ErrorCode.WINDOW_NOT_FOUND)
    return row


def _recent(digest: str, env: str | None) -> Select[WindowRow]:
    stmt = select(WindowRow).where(WindowRow.digest == digest)
    if env is not None:
        stmt = stmt.where(WindowRow.env == env)
    return stmt.order_by(WindowRow.end.desc(), WindowRow.start.desc(), WindowRow.env)


def latest_window(uow: UnitOfWork, digest: str, env: str | None = None) -> WindowRow | None:
    """The newest window of a digest in `env` (of any environment when None: for display only)."""
    return uow.session.scalar(_recent(digest, env).limit(1))


def windows_of(
    uow: UnitOfWork, digest: str, *, limit: int, until: WindowRow | None = None, env: str | None = None
) -> list[WindowRow]:
    """The newest windows of a digest (in `env`, or every environment when None), newest first; with `until`, only
    windows of its environment, that window and the ones ending before it."""
    if until is not None:
        env = until.env
    stmt = _recent(digest, env)
    if until is not None:
        stmt = stmt.where(
            (WindowRow.end < until.end) | ((WindowRow.end == until.end) & (WindowRow.start <= until.start))
        )
    return list(uow.session.scalars(stmt.limit(limit)))


def checks_of(uow: UnitOfWork, window_id: str, license_id: str | None = None) -> list[CheckRow]:
    stmt = select(CheckRow).where(CheckRow.window_id == window_id)
    if license_id is not None:
        stmt = stmt.where(CheckRow.license_id == license_id)
    return list(uow.session.scalars(stmt.order_by(CheckRow.license_id, CheckRow.position)))


def checks_for_windows(uow: UnitOfWork, window_ids: Sequence[str]) -> list[CheckRow]:
    if not window_ids:
        return []
    stmt = select(CheckRow).where(CheckRow.window_id.in_(list(window_ids)))
    return list(uow.session.scalars(stmt.order_by(CheckRow.license_id, CheckRow.position)))


def checked(uow: UnitOfWork, window_id: str, license_id: str) -> bool:
    stmt = select(CheckRow.id).where(CheckRow.window_id == window_id, CheckRow.license_id == license_id).limit(1)
    return uow.session.scalar(stmt) is not None


def breaches(uow: UnitOfWork, *, limit: int, digests: Sequence[str] | None = None) -> list[tuple[CheckRow, WindowRow]]:
    """Breached checks, newest first, with their windows."""
    stmt = (
        select(CheckRow, WindowRow)
        .join(WindowRow, WindowRow.id == CheckRow.window_id)
        .where(CheckRow.status == "breached")
        .order_by(CheckRow.checked_at.desc(), CheckRow.id.desc())
        .limit(limit)
    )
    if digests is not None:
        stmt = stmt.where(CheckRow.digest.in_(list(digests)))
    return [(c, w) for c, w in uow.session.execute(stmt).tuples()]


def series(
    uow: UnitOfWork, digest: str, metrics: Sequence[str], *, limit: int, env: str | None = None
) -> list[tuple[str, str, datetime, datetime, float | None]]:
    """(metric, window id, start, end, value) of the newest `limit` windows, oldest first."""
    recent = [w.id for w in windows_of(uow, digest, limit=limit, env=env)]
    if not recent:
        return []
    stmt = (
        select(MetricRow.metric, WindowRow.id, WindowRow.start, WindowRow.end, MetricRow.value)
        .join(WindowRow, WindowRow.id == MetricRow.window_id)
        .where(MetricRow.window_id.in_(recent))
        .order_by(WindowRow.end, WindowRow.start, MetricRow.metric)
    )
    if metrics:
        stmt = stmt.where(MetricRow.metric.in_(list(metrics)))
    return list(uow.session.execute(stmt).tuples())


def history_of(uow: UnitOfWork, window_id: str) -> list[WindowHistoryRow]:
    """Every contribution to a window, oldest first."""
    stmt = select(WindowHistoryRow).where(WindowHistoryRow.window_id == window_id)
    return list(uow.session.scalars(stmt.order_by(WindowHistoryRow.created_at, WindowHistoryRow.id)))
