"""The migrated schema is the schema the ORM declares, for every table (columns, types, nullability, indexes)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import charter
from charter.bootstrap import Container
from charter.storage.base import Base


def _import_every_table_module() -> None:
    for info in pkgutil.iter_modules(charter.__path__):
        if info.ispkg:
            try:
                importlib.import_module(f"charter.{info.name}.tables")
            except ModuleNotFoundError as exc:
                if exc.name != f"charter.{info.name}.tables":
                    raise


def _known(diff: Any) -> bool:
    """Alembic compares a `unique=True` column's constraint by name, and the database names it itself: noise."""
    if diff[0] not in ("add_constraint", "remove_constraint") or type(diff[1]).__name__ != "UniqueConstraint":
        return False
    columns = list(diff[1].columns)
    if len(columns) != 1:
        return False
    declared = Base.metadata.tables[columns[0].table.name].columns.get(columns[0].name)
    return declared is not None and bool(declared.unique)


def test_migrations_match_every_table(container: Container) -> None:
    _import_every_table_module()
    assert len(Base.metadata.tables) >= 30
    with container.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if not (isinstance(d, tuple) and _known(d))]
    assert diffs == [], "\n".join(repr(d) for d in diffs)
