"""Delivery bookkeeping shared by every outbox table (webhooks, email and chat notifications).

A row is due when it is neither delivered nor given up, its next attempt is due and no live lease holds it. `claim`
leases a batch of due rows in one short transaction (SKIP LOCKED on PostgreSQL, so several processes share the work);
sending happens outside any transaction; `record` then marks each row delivered, or reschedules it with exponential
backoff until it has failed `max_attempts` times. Tables name their columns alike: `id`, `created_at`, `attempts`,
`next_attempt_at`, `lease_until`, `delivered_at`, `failed_at`, `last_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from charter.core.clock import utcnow
from charter.storage.uow import UnitOfWorkFactory

BASE_DELAY_S = 1.0
MAX_DELAY_S = 3600.0


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failures: 1 s, 2 s, 4 s, … capped at an hour."""
    return timedelta(seconds=min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(0, attempts - 1)))


def claim(uows: UnitOfWorkFactory, table: Any, now: datetime, *, lease: timedelta, batch: int) -> list[Any]:
    """Lease up to `batch` due rows of `table` (an ORM class) until `now + lease`; oldest first."""
    with uows() as uow:
        stmt = (
            select(table)
            .where(
                table.delivered_at.is_(None),
                table.failed_at.is_(None),
                table.next_attempt_at <= now,
                or_(table.lease_until.is_(None), table.lease_until < now),
            )
            .order_by(table.created_at, table.id)
            .limit(batch)
        )
        if uow.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(uow.session.scalars(stmt))
        for row in rows:
            row.lease_until = now + lease
        uow.commit()
        return rows


def record(
    uows: UnitOfWorkFactory,
    table: Any,
    outcome: Mapping[str, str | None],
    *,
    max_attempts: int,
    log: logging.Logger,
    what: str,
) -> int:
    """Store each row's outcome (None: delivered, else the error); returns how many were delivered."""
    delivered = 0
    with uows() as uow:
        for row_id, error in outcome.items():
            row = uow.session.get(table, row_id)
            if row is None:
                continue
            done = utcnow()
            row.lease_until = None
            if error is None:
                row.delivered_at = done
                delivered += 1
                continue
            row.attempts += 1
            row.last_error = error
            if row.attempts >= max_attempts:
                row.failed_at = done
                log.error("%s %s failed for good after %d attempts: %s", what, row.id, row.attempts, error)
            else:
                row.next_attempt_at = done + backoff(row.attempts)
                log.warning("%s %s attempt %d failed: %s", what, row.id, row.attempts, error)
        uow.commit()
    return delivered
