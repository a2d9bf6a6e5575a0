"""The audit tables as migrated are the tables the ORM declares; migration 0008 keeps every entry of an older log."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from charter.audit.export import verify_database
from charter.bootstrap import Container
from charter.core.events import AuditEvent
from charter.storage import migrate


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


def test_sqlite_keys_entries_by_rowid(container: Container) -> None:
    """Every table matches the ORM (tests/integration/test_schema.py); on SQLite seq is also the rowid."""
    if container.engine.dialect.name != "sqlite":
        return
    ddl = " ".join(_schema(container.engine))
    assert "seq INTEGER NOT NULL" in ddl and "WITHOUT ROWID" in ddl
    with container.engine.connect() as conn:
        indexes = {r[0] for r in conn.execute(text("SELECT name FROM pragma_index_list('audit_entries')"))}
    expected = {"ix_audit_entries_ts", "ix_audit_entries_actor", "ix_audit_entries_action", "ix_audit_entries_resource"}
    assert indexes == expected  # no separate index for the primary key


def test_upgrade_from_0007_keeps_the_log(container: Container) -> None:
    engine = container.engine
    cfg = migrate._config(engine)
    command.downgrade(cfg, "0007_monitoring")
    if engine.dialect.name == "sqlite":
        assert "seq BIGINT NOT NULL" in " ".join(_schema(engine))
    _append(container, 600)  # crosses a stored node boundary (every 256 leaves)
    container.audit_log.checkpointer.checkpoint()
    migrate.upgrade(engine)
    assert migrate.pending(engine) == []
    _append(container, 10)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one() >= 610
    report = verify_database(engine, public_raw=container.keys.audit.public_raw)
    assert report.ok, report.problems
