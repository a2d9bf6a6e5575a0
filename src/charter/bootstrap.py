"""Composition root: settings → engine → keys → audit sink → unit-of-work factory. Used by every entrypoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from charter.audit.service import AuditLog
from charter.audit.sink import AuditSink
from charter.auth import service as auth_service
from charter.auth.schemas import KeyCreated
from charter.core.signing import KeyRing, ensure_keys, load_keys
from charter.settings import Settings
from charter.storage import migrate
from charter.storage.engine import make_engine
from charter.storage.uow import UnitOfWorkFactory


@dataclass
class Container:
    """Everything a running Charter process shares. Built once per process."""

    settings: Settings
    engine: Engine
    keys: KeyRing
    audit: AuditSink
    uow: UnitOfWorkFactory
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings) -> Container:
    """Wire a container for an initialised data dir (keys present, schema migrated)."""
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    keys = load_keys(settings.keys_dir)
    audit = AuditSink(keys.hmac)
    c = Container(settings=settings, engine=engine, keys=keys, audit=audit, uow=UnitOfWorkFactory(engine, audit))
    c.extras["audit.log"] = AuditLog.build(settings, c.uow, keys.audit, audit)
    return c


@dataclass(frozen=True)
class InitResult:
    home: Path
    created_keys: bool
    migrated: list[str]
    admin: KeyCreated | None


def init(settings: Settings, *, admin_name: str = "admin") -> InitResult:
    """Create the data dir, keys, schema and first admin. Safe to re-run: changes nothing that exists."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = ensure_keys(settings.keys_dir)
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        todo = migrate.pending(engine)
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    container = build(settings)
    try:
        with container.uow() as uow:
            admin = auth_service.bootstrap_admin(uow, admin_name)
    finally:
        container.close()
    return InitResult(home=settings.home, created_keys=created, migrated=todo, admin=admin)
