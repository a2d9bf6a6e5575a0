"""The audit tables as migrated are the tables the ORM declares; migration 0008 keeps every entry of an older log."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from charter.audit.export import verify_database
from charter.bootstrap import Container
from charter.core.events import AuditEvent
from charter.storage import migrate
from charter.storage.base import Base

OURS = {"audit_entries", "audit_head", "audit_nodes", "audit_checkpoints"}


def _ours(diff: Any) -> bool:
    if isinstance(diff, list):
        return any(_ours(d) for d in diff)
    for item in diff[1:]:
        name = getattr(item, "name", None) if not isinstance(item, str) else item
        table = getattr(item, "table", None)
        if (table is not None and table.name in OURS) or name in OURS:
            return True
    return False


def _schema(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE tbl_name IN ('audit_entries', 'audit_nodes') AND sql IS NOT NULL")
        )
        return [str(r[0]) for r in rows]


def _append(c: Container, n: int) -> None:
    with c.uow() as uow:
        c.audit.append_many(
            uow.session,
            [
                AuditEvent(actor="user:a", action="thing.made", resource=f"thing:{i}", details={"i": i})
                for i in range(n)
            ],
        )
        uow.commit()


def test_migration_matches_tables(container: Container) -> None:
    with container.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if _ours(d)]
    assert diffs == []
    if container.engine.dialect.name == "sqlite":
        ddl = " ".join(_schema(container.engine))
        assert "seq INTEGER NOT NULL" in ddl and "WITHOUT ROWID" in ddl
        with container.engine.connect() as conn:
            indexes = {r[0] for r in conn.execute(text("SELECT name FROM pragma_index_list('audit_entries')"))}
        assert indexes == {
            "ix_audit_entries_ts",
            "ix_audit_entries_actor",
            "ix_audit_entries_action",
            "ix_audit_entries_resource",
        }  # no separate index for the primary key


def test_upgrade_from_0007_keeps_the_log(container: Container) -> None:
    engine = container.engine
    cfg = migrate._config(engine)
    command.downgrade(cfg, "0007_monitoring")
    if engine.dialect.name == "sqlite":
        assert "seq BIGINT NOT NULL" in " ".join(_schema(engine))
    _append(container, 600)  # crosses a stored node boundary (every 256 leaves)
    container.extras["audit.log"].checkpointer.checkpoint()
    migrate.upgrade(engine)
    assert migrate.pending(engine) == []
    _append(container, 10)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one() >= 610
    report = verify_database(engine, public_raw=container.keys.audit.public_raw)
    assert report.ok, report.problems
