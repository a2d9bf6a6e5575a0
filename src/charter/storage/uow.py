"""Unit of work: owns one transaction. Repositories never commit; a use case commits once."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from charter.core.events import AuditEvent, AuditWriter


class UnitOfWork:
    """`with uow_factory() as uow: …; uow.commit()` — leaving without commit rolls back."""

    def __init__(self, engine: Engine, audit: AuditWriter, *, write: bool) -> None:
        self._engine = engine
        self._audit = audit
        self._write = write
        self._after_commit: list[Callable[[], None]] = []
        self._session: Session | None = None
        self._conn: Connection | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._session

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        if self._engine.dialect.name == "sqlite" and self._write:
            # Take the write lock up front: a deferred transaction that later writes can fail with SQLITE_BUSY.
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        self._conn = conn
        self._session = Session(bind=conn, expire_on_commit=False, autoflush=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, conn = self.session, self._conn
        try:
            if session.in_transaction():
                session.rollback()
        finally:
            session.close()
            if conn is not None:
                conn.info.pop("sqlite_begin", None)
                if conn.in_transaction():
                    conn.rollback()
                conn.close()
            self._session = None
            self._conn = None

    def commit(self) -> None:
        """Commit the transaction, then run after-commit hooks (notifications, cache updates)."""
        self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def rollback(self) -> None:
        self.session.rollback()
        self._after_commit.clear()

    def record(self, event: AuditEvent) -> int:
        """Append `event` to the audit log in this transaction: it commits or rolls back with the change."""
        seq = self._audit.append(self.session, event)
        self.after_commit(lambda: self._audit.after_commit(event))
        return seq

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(hook)


class UnitOfWorkFactory:
    """Makes units of work on one engine; `write=True` takes the write lock early on SQLite.

    The audit writer is required: there is no way to build a unit of work that skips the log.
    """

    def __init__(self, engine: Engine, audit: AuditWriter) -> None:
        self.engine = engine
        self.audit = audit

    def __call__(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self.engine, self.audit, write=write)
