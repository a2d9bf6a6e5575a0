"""Backends under test: SQLite always, PostgreSQL when CHARTER_TEST_POSTGRES_URL is set.

Each test gets its own data dir and, on PostgreSQL, its own database. A test that needs an initialised install
(`charter init`: keys, every migration, the first admin) gets a *copy* of one made once per test process: the data
dir is copied (SQLite: a checkpointed database file), the PostgreSQL database is created with `CREATE DATABASE …
TEMPLATE`. The copy went through exactly the code `charter init` runs, so the code paths are today's; only the
repetition is gone (a copy takes milliseconds, `init` hundreds of them).
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from charter import bootstrap
from charter.settings import Settings

PG_URL = os.environ.get("CHARTER_TEST_POSTGRES_URL", "")
PG_SKIP = "PostgreSQL cases skipped: set CHARTER_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres", id="postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason=PG_SKIP)]
    ),
]
# Every per-test database holds its tables in this schema, so the search_path code path is always exercised.
PG_TEST_SCHEMA = "charter_t"


def pg_sqlalchemy_url(database: str | None = None) -> str:
    """The CI server's URL for SQLAlchemy (psycopg 3), optionally naming another database on it."""
    url = PG_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
            break
    if database is None:
        return url
    return make_url(url).set(database=database).render_as_string(hide_password=False)


class _PgAdmin:
    """CREATE/DROP DATABASE on the CI server; drops run on a background thread so teardown never waits for them."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(pg_sqlalchemy_url(), isolation_level="AUTOCOMMIT", pool_size=2)
            return self._engine

    def create(self, name: str, *, template: str | None = None) -> None:
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}" STRATEGY WAL_LOG' if template else "")
        with self.engine.connect() as conn:
            conn.exec_driver_sql(sql)

    def drop_now(self, name: str) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_later(self, name: str) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="pg-drops", daemon=True)
                self._thread.start()
        self._drops.put(name)

    def _drain(self) -> None:
        while (name := self._drops.get()) is not None:
            try:
                self.drop_now(name)
            except Exception:  # a database left behind is named ct_* and harmless: never fail a test for it
                pass

    def close(self) -> None:
        """Finish the queued drops (called at the end of the test session)."""
        if self._thread is not None:
            self._drops.put(None)
            self._thread.join(120)
        if self._engine is not None:
            self._engine.dispose()


PG_ADMIN = _PgAdmin()


def _new_pg_database(*, template: str | None, prefix: str = "ct_") -> str:
    name = prefix + secrets.token_hex(6)
    PG_ADMIN.create(name, template=template)
    if template is None:
        engine = create_engine(pg_sqlalchemy_url(name))
        try:
            with engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {PG_TEST_SCHEMA}"))
        finally:
            engine.dispose()
    return name


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema in the CI database, dropped afterwards (for tests that need the server's own db)."""
    name = "t_" + secrets.token_hex(6)
    engine = create_engine(pg_sqlalchemy_url())
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        engine.dispose()


@dataclass(frozen=True)
class Template:
    """An initialised install made once per test process: a data dir and, on PostgreSQL, a template database."""

    home: Path
    database: str | None
    init: bootstrap.InitResult


class Templates:
    """One template per backend, built on first use by running `charter init`'s code (`bootstrap.init`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, Template] = {}

    def get(self, backend: str) -> Template:
        if backend not in self._made:
            self._made[backend] = self._make(backend)
        return self._made[backend]

    def _make(self, backend: str) -> Template:
        home = self.root / f"template-{backend}" / "home"
        database = None
        if backend == "sqlite":
            settings = Settings(home=home)
        else:
            database = _new_pg_database(template=None, prefix="ctpl_")
            settings = _pg_settings(home, database)
        init = bootstrap.init(settings)
        if backend == "sqlite":
            # Fold the WAL into the main file so a plain copy of the data dir is the whole database.
            with sqlite3.connect(home / "charter.db") as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Template(home=home, database=database, init=init)

    def close(self) -> None:
        for t in self._made.values():
            if t.database:
                PG_ADMIN.drop_now(t.database)


def _pg_settings(home: Path, database: str, **overrides: object) -> Settings:
    return Settings(
        home=home,
        database_url=pg_sqlalchemy_url(database),
        database_schema=PG_TEST_SCHEMA,
        **overrides,  # type: ignore[arg-type]
    )


@contextmanager
def settings_for(
    backend: str, home: Path, *, template: Template | None = None, **overrides: object
) -> Iterator[Settings]:
    """Settings for a data dir on `backend`: empty, or a copy of `template` (an initialised install)."""
    if template is not None:
        shutil.copytree(template.home, home, symlinks=True)
    if backend == "sqlite":
        yield Settings(home=home, **overrides)  # type: ignore[arg-type]
        return
    database = _new_pg_database(template=template.database if template else None)
    try:
        yield _pg_settings(home, database, **overrides)
    finally:
        PG_ADMIN.drop_later(database)


def copied_init(template: Template, home: Path) -> bootstrap.InitResult:
    """The template's `charter init` result, as if it had run in `home` (same admin key, same keys)."""
    return replace(template.init, home=home)


def env_for(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce `settings` in a subprocess."""
    env = {"CHARTER_HOME": str(settings.home)}
    if settings.database_url:
        env["CHARTER_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["CHARTER_DATABASE_SCHEMA"] = settings.database_schema
    return env


def admin_key(init: bootstrap.InitResult) -> str:
    """The first admin's API key that `charter init` printed."""
    assert init.admin is not None, "the data dir was initialised before: no admin key was printed"
    return init.admin.key


def audit_docs(settings: Settings, action_like: str) -> list[dict[str, Any]]:
    """The bodies of the audit entries whose action matches the SQL pattern (e.g. `inference.%`), in log order."""
    import orjson
    from sqlalchemy import select

    from charter.audit.tables import AuditEntryRow

    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            query = select(AuditEntryRow.body).where(AuditEntryRow.action.like(action_like)).order_by(AuditEntryRow.seq)
            return [orjson.loads(bytes(b)) for b in uow.session.scalars(query)]
    finally:
        c.close()
