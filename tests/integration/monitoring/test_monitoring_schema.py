"""Migration 0007 creates exactly the monitoring tables the ORM declares (columns, types, indexes, constraints)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from charter.bootstrap import Container
from charter.monitoring import tables
from charter.storage.base import Base

OURS = {t.name for t in Base.metadata.sorted_tables if t.name.startswith("monitor_")}


def _ours(diff: Any) -> bool:
    """Whether one autogenerate difference concerns a monitoring table."""
    if isinstance(diff, list):
        return any(_ours(d) for d in diff)
    for item in diff[1:]:
        name = getattr(item, "name", None) if not isinstance(item, str) else item
        table = getattr(item, "table", None)
        if (table is not None and table.name in OURS) or name in OURS:
            return True
    return False


def test_migration_matches_tables(container: Container) -> None:
    assert tables.WindowRow.__tablename__ in OURS and len(OURS) == 5
    with container.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if _ours(d)]
    assert diffs == []
