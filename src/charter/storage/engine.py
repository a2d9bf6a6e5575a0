"""Engine construction: SQLite in WAL mode with durable commits, or PostgreSQL via psycopg 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool


def make_engine(url: str, *, pool_size: int = 10, search_path: str | None = None) -> Engine:
    """Create the engine for `url`; `search_path` isolates a PostgreSQL schema (tests)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=NullPool if ":memory:" not in url else None,
        )
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if search_path:
        connect_args["options"] = f"-csearch_path={search_path}"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event emit BEGIN itself so write transactions can be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.info.get("sqlite_begin", "BEGIN")
        conn.exec_driver_sql(mode)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
