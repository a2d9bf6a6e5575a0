"""Verifying from the database: failures while hashing surface as errors, never as a hang."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from charter.audit import export
from charter.audit.export import verify_database
from charter.audit.verify import LogVerifier
from charter.bootstrap import Container
from charter.core.events import AuditEvent
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


EDITS = [
    ("action", "'inference.allow'"),
    ("outcome", "'success'"),
    ("actor", "'user:nobody'"),
    ("resource", "'thing:elsewhere'"),
    ("ts", "ts"),  # an hour later, spelled per backend below
]


@pytest.mark.parametrize("workers", [1, 2], ids=["serial", "parallel"])
@pytest.mark.parametrize(("column", "value"), EDITS, ids=[c for c, _ in EDITS])
def test_default_verify_catches_an_edit_of_any_stored_column(
    container: Container, column: str, value: str, workers: int
) -> None:
    """The issue: `charter audit verify` (not --deep) missed edits to the indexed columns (`action`, `outcome`):
    listings and filters read those columns, so a denied call could be shown as allowed while the log verified.
    Every stored copy of a body field (ts, actor, action, resource, outcome) is now compared with its body, by the
    serial verifier and by the worker processes alike."""
    _append(container, 1100)  # 4 chunks of 256: enough for the workers
    target = 777
    if column == "ts":
        pg = container.engine.dialect.name == "postgresql"
        value = "ts + interval '1 hour'" if pg else "datetime(ts, '+1 hour')"
    with container.engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_entries SET {column} = {value} WHERE seq = {target}"))
    if column == "outcome":  # an allow entry denied
        with container.engine.begin() as conn:
            conn.execute(text(f"UPDATE audit_entries SET outcome = 'denied' WHERE seq = {target}"))
    report = verify_database(
        container.engine, public_raw=container.keys.audit.public_raw, workers=workers, chunk_height=8, min_chunks=1
    )
    assert not report.ok
    bad = report.first_bad
    assert bad is not None and bad.seq == target, report.problems
    assert f"column {column} differ" in bad.reason, bad.reason
    assert [p.seq for p in report.problems] == [target], report.problems


def test_default_verify_accepts_long_values_the_columns_hold_the_start_of(container: Container) -> None:
    """Columns keep the first 140/80/200 characters of longer values: that is not an edit."""
    with container.uow() as uow:
        container.audit.append_many(uow.session, [AuditEvent("user:" + "a" * 300, "x." + "b" * 100, "r:" + "c" * 300)])
        uow.commit()
    _append(container, 5)
    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw, workers=1)
    assert report.ok, report.problems
