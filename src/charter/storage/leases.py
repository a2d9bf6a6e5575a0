"""Job leases: each scheduled job (licenses, monitoring) runs in at most one process at a time.

A lease row works on SQLite and PostgreSQL alike. Every job is idempotent, so a crashed holder's work is simply
redone by the next holder once its lease expires.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from charter.core.clock import as_utc
from charter.core.ids import new_id
from charter.storage.tables import JobLeaseRow
from charter.storage.uow import UnitOfWorkFactory

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{new_id('proc')[-8:]}"
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def acquire(uows: UnitOfWorkFactory, name: str, now: datetime, holder: str = HOLDER) -> bool:
    """Take the lease on job `name` unless another live holder has it."""
    try:
        with uows() as uow:
            row = uow.session.scalar(select(JobLeaseRow).where(JobLeaseRow.name == name).with_for_update())
            if row is None:
                uow.session.add(JobLeaseRow(name=name, holder=holder, expires_at=now + LEASE))
            elif row.holder != holder and as_utc(row.expires_at) > now:
                return False
            else:
                row.holder, row.expires_at = holder, now + LEASE
            uow.commit()
            return True
    except IntegrityError:  # another process inserted the lease first
        return False


def release(uows: UnitOfWorkFactory, name: str, now: datetime, holder: str = HOLDER) -> None:
    """Give the lease on job `name` up (if `holder` has it) and note when the job last ran."""
    with uows() as uow:
        row = uow.session.get(JobLeaseRow, name)
        if row is not None and row.holder == holder:
            row.expires_at = RELEASED
            row.last_run_at = now
            uow.commit()
