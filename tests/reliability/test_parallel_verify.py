"""Verification in worker processes gives the serial verifier's verdict, on intact and on rewritten logs.

Chunks of 2^8 entries (instead of 2^16) let a log of a few thousand entries span many chunks, with checkpoints
signed inside chunks, on chunk boundaries and in the tail. Every rewrite of the tamper campaign is applied to a
copy, and the copy is verified three ways: two worker processes, serially with the same chunks, serially with the
production chunk size. The problems found and the first bad entry must be the same.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from charter.audit import parallel
from charter.audit.export import verify_database
from charter.audit.verify import MAX_PROBLEMS, Report
from charter.bootstrap import Container
from charter.core.events import AuditEvent
from charter.storage.engine import make_engine
from tests.reliability.test_tamper_campaign import Copy, build_template, mutate
from tests.unit.audit.memlog import MemLog

N = 256 * 6 + 77
CHECKPOINTS = (100, 256, 700, 1024, 1500)
KINDS = ("edit", "edit_fixing_leaf", "delete", "insert", "reorder", "truncate", "fork")


@pytest.fixture(scope="module")
def template() -> Iterator[tuple[MemLog, list[str]]]:
    log, notes = build_template(N, CHECKPOINTS, batch=50)
    yield log, notes
    log.close()


def verdicts(path: Path, key: Any, trusted: tuple[str, ...]) -> list[Report]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        return [
            verify_database(engine, public_raw=key, trusted=trusted, workers=workers, chunk_height=height, min_chunks=2)
            for workers, height in ((2, 8), (1, 8), (1, 16))
        ]
    finally:
        engine.dispose()


def summary(report: Report) -> tuple[Any, ...]:
    bad = report.first_bad
    problems = sorted((p.seq if p.seq is not None else -1, p.reason, p.end or 0) for p in report.problems)
    where = None if bad is None else (bad.seq, bad.end)  # ties between problems of one range may name either
    return report.ok, report.size, report.root, report.checkpoints, where, problems


@pytest.fixture
def worker_runs(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Chunks the workers checked, per parallel run (None: a range did not hold its entries, verified serially)."""
    runs: list[int | None] = []
    real = parallel.verify_chunks

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        runs.append(None if out is None else len(out))
        return out

    monkeypatch.setattr(parallel, "verify_chunks", spy)
    return runs


def test_an_intact_log_verifies_in_workers(
    template: tuple[MemLog, list[str]], tmp_path: Path, worker_runs: list[int | None]
) -> None:
    log, _ = template
    copy = tmp_path / "intact.db"
    shutil.copyfile(log.dir / "audit.db", copy)
    reports = verdicts(copy, log.key.public_raw, ())
    assert all(r.ok for r in reports), [r.problems[:2] for r in reports]
    assert summary(reports[0]) == summary(reports[1]) == summary(reports[2])
    assert reports[0].size == N and reports[0].checkpoints == len(CHECKPOINTS)
    assert worker_runs == [N // 256]  # the first verdict came from the workers, the serial ones did not start any


@pytest.mark.parametrize("kind", KINDS)
def test_every_rewrite_gets_the_serial_verdict(
    template: tuple[MemLog, list[str]],
    tmp_path: Path,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    worker_runs: list[int | None],
) -> None:
    log, notes = template
    monkeypatch.setattr("tests.reliability.test_tamper_campaign.N", N)
    monkeypatch.setattr("tests.reliability.test_tamper_campaign.CHECKPOINTS", CHECKPOINTS)
    rng = random.Random(f"parallel-{kind}")
    for n in range(6):
        path = tmp_path / f"{kind}-{n}.db"
        copy = Copy(log, path)
        where, located = mutate(copy, kind, rng)
        copy.db.execute("COMMIT")
        copy.db.close()
        reports = verdicts(path, log.key.public_raw, tuple(notes) if kind == "fork" else ())
        workers, serial, production = reports
        assert not reports[0].ok, f"{kind} at {where} went unnoticed by the workers"
        assert located(reports[0]), f"{kind} at {where}: {reports[0].problems[:3]}"
        if len(serial.problems) < MAX_PROBLEMS:  # beyond the cap, which problems are kept depends on the order
            assert summary(workers) == summary(serial), f"{kind} at {where}"
        assert summary(workers)[:5] == summary(serial)[:5] == summary(production)[:5], f"{kind} at {where}"
    assert len(worker_runs) == 6
    if kind in ("edit", "edit_fixing_leaf", "reorder"):  # every range still holds its entries
        assert all(run is not None for run in worker_runs), worker_runs


def test_a_log_in_memory_is_verified_serially() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as conn:
            assert parallel.source_for(conn) is None
    finally:
        engine.dispose()


def test_workers_read_the_callers_database_on_each_backend(container: Container, worker_runs: list[int | None]) -> None:
    """On PostgreSQL the workers import the caller's snapshot and reach the same schema (tests use a throwaway one)."""
    with container.uow() as uow:
        for k in range(3 * 256 + 10):
            uow.record(AuditEvent("user:alice", "team.create", f"team:t{k}", details={"k": k}))
        uow.commit()
    container.audit_log.checkpointer.checkpoint()
    key = container.keys.audit.public_raw

    def verify(workers: int) -> Report:
        return verify_database(container.engine, public_raw=key, workers=workers, chunk_height=8, min_chunks=2)

    intact = verify(2)
    assert intact.ok, intact.problems[:3]
    assert worker_runs == [intact.size // 256]
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET body = body || ' ' WHERE seq = 300"))
    edited, serial = verify(2), verify(1)
    assert worker_runs[-1] is not None  # the edit left every range whole: the workers found it
    assert summary(edited) == summary(serial)
    assert edited.first_bad is not None and edited.first_bad.seq == 300


def test_workers_that_cannot_reach_the_database_leave_it_to_the_serial_verifier(tmp_path: Path) -> None:
    gone = parallel.Source("sqlite", (("path", str(tmp_path / "missing.db")),))
    assert "missing" not in repr(gone)  # connection parameters (a password, on PostgreSQL) stay out of logs
    assert parallel.verify_chunks(gone, 512, [], chunk_height=8, workers=2) is None
