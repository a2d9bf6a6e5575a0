"""Backends under test: SQLite always, PostgreSQL when CHARTER_TEST_POSTGRES_URL is set (each test gets a schema)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from charter.settings import Settings

PG_URL = os.environ.get("CHARTER_TEST_POSTGRES_URL", "")
PG_SKIP = "PostgreSQL cases skipped: set CHARTER_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres", id="postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason=PG_SKIP)]
    ),
]


def pg_sqlalchemy_url() -> str:
    url = PG_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
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


@contextmanager
def settings_for(backend: str, home: Path, **overrides: object) -> Iterator[Settings]:
    """Settings for a fresh data dir on `backend`."""
    if backend == "sqlite":
        yield Settings(home=home, environment="test", **overrides)  # type: ignore[arg-type]
        return
    with pg_schema() as schema:
        yield Settings(
            home=home,
            environment="test",
            database_url=pg_sqlalchemy_url(),
            database_schema=schema,
            **overrides,  # type: ignore[arg-type]
        )


def env_for(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce `settings` in a subprocess."""
    env = {"CHARTER_HOME": str(settings.home), "CHARTER_ENVIRONMENT": "test"}
    if settings.database_url:
        env["CHARTER_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["CHARTER_DATABASE_SCHEMA"] = settings.database_schema
    return env
