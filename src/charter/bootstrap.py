"""Composition root: settings → engine → keys → audit sink → unit-of-work factory → audit log. Used by every
entrypoint.

Everything a process shares is a typed field of `Container`: built here (`build`), or set once by the wiring
function of the part that owns it (the server's lifespan hooks, the gateway's audit writer, monitoring).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from charter.audit import keyset
from charter.audit.service import AuditLog
from charter.audit.sink import AuditSink
from charter.auth import service as auth_service
from charter.auth.schemas import KeyCreated
from charter.catalog import controls
from charter.core import keybundle
from charter.core.errors import Conflict, ErrorCode
from charter.core.keybundle import Bundle
from charter.core.lifespan import Lifespan
from charter.core.signing import KeyRing, ensure_keys, load_keys
from charter.licenses import policy as licensing_policy
from charter.settings import Settings
from charter.settings import public_url as settings_public_url
from charter.storage import files, migrate
from charter.storage.engine import make_engine
from charter.storage.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from charter.audit.writer import GroupCommitWriter
    from charter.monitoring.wiring import Monitor
    from charter.reports.monitoring import MonitoringSource

Role = Literal["serve", "gateway"]
PublicRoute = tuple[str, Callable[["Request"], Awaitable["Response"]]]  # a path outside /api and its endpoint


@dataclass
class Container:
    """Everything a running Charter process shares. Built once per process."""

    settings: Settings
    engine: Engine
    keys: KeyRing
    audit: AuditSink
    uow: UnitOfWorkFactory
    audit_log: AuditLog
    role: Role = "serve"
    # Set by wiring, each by one owner (the server runs `lifespan`; the rest are read where named):
    lifespan: Lifespan = field(default_factory=Lifespan)  # every part's start/stop hooks
    public_routes: list[PublicRoute] = field(default_factory=list)  # api.routes.audit → api.public
    audit_wired: bool = False  # api.routes.audit.wire ran: checkpoint loop and public endpoints registered
    audit_writer: GroupCommitWriter | None = None  # gateway.audit.group_writer, once the gateway starts
    monitor: Monitor | None = None  # monitoring.wiring.wire: capture (read by the gateway) and its loops
    reports_monitoring: MonitoringSource | None = None  # api.routes.monitoring.wire → api.routes.reports

    @property
    def public_url(self) -> str:
        """The one base URL tokens, status lists and JWKS name (CHARTER_PUBLIC_URL, else this process's address)."""
        return settings_public_url(self.settings, gateway=self.role == "gateway")

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings, *, role: Role = "serve") -> Container:
    """Wire a container for an initialised data dir (keys present, schema migrated).

    Raises KeysMismatch when the data dir's keys are not the key set recorded in the database.
    """
    controls.configure(settings.control_catalogs)
    licensing_policy.configure(settings.licensing)
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        keys = load_keys(settings.keys_dir)
        audit = AuditSink(keys.hmac)
        uows = UnitOfWorkFactory(engine, audit)
        keyset.ensure(uows, keys, str(settings.keys_dir))
    except BaseException:
        engine.dispose()
        raise
    log = AuditLog.build(settings, uows, keys.audit, audit)
    return Container(settings=settings, engine=engine, keys=keys, audit=audit, uow=uows, audit_log=log, role=role)


def check_keys(settings: Settings) -> None:
    """Before a server starts: raise KeysMismatch when its keys are not the database's key set.

    Everything else that can be wrong (no data dir, no database) is left to the server's own start-up.
    """
    try:
        keys = load_keys(settings.keys_dir)
    except (FileNotFoundError, ValueError):
        return
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        keyset.check(UnitOfWorkFactory(engine, AuditSink(keys.hmac)), keys, str(settings.keys_dir))
    except SQLAlchemyError:
        return
    finally:
        engine.dispose()


@dataclass(frozen=True)
class InitResult:
    home: Path
    created_keys: bool
    migrated: list[str]
    admin: KeyCreated | None
    joined: bool = False
    keys: dict[str, str] = field(default_factory=dict)


class KeysMissing(Conflict):
    code = ErrorCode.KEYS_MISSING


def init(settings: Settings, *, admin_name: str = "admin", join: Bundle | None = None) -> InitResult:
    """Create the data dir, schema, keys (or install `join`'s) and first admin. Safe to re-run: changes nothing
    that exists. A database that already has a key set accepts only a data dir holding (or joining with) those keys.
    """
    settings.home.mkdir(parents=True, exist_ok=True, mode=files.DIR_MODE)
    files.make_private(settings.home, settings.keys_dir, settings.resolved_database_url)
    files.create_private_database(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        todo = migrate.pending(engine)
        migrate.upgrade(engine)
        with engine.connect() as conn:
            recorded = keyset.recorded(conn)
    finally:
        engine.dispose()
    where = str(settings.keys_dir)
    created = joined = False
    if join is not None:
        if recorded is not None and recorded != join.fingerprints:
            raise keyset.mismatch_error(recorded, join.fingerprints, "the --join file")
        joined = keybundle.install(settings.keys_dir, join)
    elif recorded is not None and not any((settings.keys_dir / n).exists() for n in keybundle.FILES):
        raise KeysMissing(
            f"the database already has the key set of a deployment (audit HMAC key {recorded.get('hmac')}) and "
            f"{where} holds no keys: {keyset.JOIN_HINT}"
        )
    else:
        created = ensure_keys(settings.keys_dir)
    container = build(settings)
    try:
        with container.uow() as uow:
            admin = auth_service.bootstrap_admin(uow, admin_name)
    finally:
        container.close()
    files.make_private(settings.home, settings.keys_dir, settings.resolved_database_url)
    return InitResult(
        home=settings.home,
        created_keys=created,
        migrated=todo,
        admin=admin,
        joined=joined,
        keys=container.keys.fingerprints(),
    )
