"""Verifying from the database: failures while hashing surface as errors, never as a hang."""

from __future__ import annotations

import threading
from typing import Any

from charter.audit import export
from charter.audit.export import verify_database
from charter.audit.verify import LogVerifier
from charter.bootstrap import Container
from tests.integration.audit.test_audit_schema import _append


def test_verify_that_fails_midway_does_not_hang(container: Container, monkeypatch: Any) -> None:
    """The reader thread that fetches ahead must stop when verification stops early (it once waited forever)."""
    _append(container, 60)
    monkeypatch.setattr(export, "FETCH_ROWS", 2)  # many small chunks: the read-ahead queue fills up
    calls = []

    def broken(self: LogVerifier, rows: Any) -> None:
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("disk error while hashing")

    monkeypatch.setattr(LogVerifier, "feed_block", broken)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            verify_database(container.engine, public_raw=container.keys.audit.public_raw)
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "verify_database hung after the consumer failed"
    assert [type(e) for e in outcome] == [RuntimeError]
