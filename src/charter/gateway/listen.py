"""PostgreSQL LISTEN for license changes: a wake-up for the live index as soon as another process commits one.

The licenses service sends `pg_notify('charter_license_state', version)` in the changing transaction (delivered on
commit only). This thread holds one dedicated autocommit connection, reconnecting after failures; the version poll
stays as the fallback, so a lost notification costs at most one poll interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

log = logging.getLogger("charter.gateway")

CHANNEL = "charter_license_state"


def _dsn(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """Calls `wake()` for every notification on `CHANNEL`; `stop()` ends it within about a second."""

    def __init__(
        self, engine: Engine, wake: Callable[[], None], *, channel: str = CHANNEL, retry_s: float = 1.0
    ) -> None:
        self._dsn = _dsn(engine)
        self._channel = channel
        self._wake = wake
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="charter-license-listen", daemon=True)
        self.notifications = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg  # here, not at module level: a SQLite process (no listener) never pays its import
        import psycopg.sql

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self._channel)))
                    self._wake()  # anything committed while we were not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.notifications += 1
                            self._wake()
            except psycopg.Error as exc:
                log.warning("license LISTEN connection failed (%s); the version poll covers it", type(exc).__name__)
                self._stop.wait(self._retry_s)


def listener_for(engine: Engine, wake: Callable[[], None]) -> Listener | None:
    """A listener on PostgreSQL; None on SQLite (same-process events and the poll cover it)."""
    return Listener(engine, wake) if engine.dialect.name == "postgresql" else None
