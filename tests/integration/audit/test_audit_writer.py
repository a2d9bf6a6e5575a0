"""The group-commit writer on SQLite and PostgreSQL: concurrency, durability errors, poison events, processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from concurrent.futures import Future

import pytest
from sqlalchemy import Connection, text

from charter.audit.export import verify_database
from charter.audit.writer import AuditEventInvalid, AuditWriteFailed, FenceMoved, GroupCommitWriter
from charter.bootstrap import Container
from charter.core.events import AuditEvent
from charter.licenses import repository
from charter.settings import Settings
from tests.support.db import env_for


def ev(i: int, **details: object) -> AuditEvent:
    return AuditEvent(
        "app:portal",
        "inference.allow",
        "deployment:d",
        details={"i": i, **details},
        sensitive={"request": b"q"},
        governance=False,
    )


def size(c: Container) -> int:
    with c.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one())


def test_concurrent_threads_and_tasks_get_distinct_durable_seqs(container: Container) -> None:
    before = size(container)
    seqs: list[int] = []
    lock = threading.Lock()
    with GroupCommitWriter(container.uow, container.audit, max_batch=50) as writer:

        def thread_writer(k: int) -> None:
            for i in range(40):
                seq = writer.submit(ev(k * 1000 + i)).result(timeout=30)
                with lock:
                    seqs.append(seq)

        async def task_writer(k: int) -> list[int]:
            return [await writer.append(ev(k * 1000 + i)) for i in range(40)]

        async def tasks() -> list[list[int]]:
            return await asyncio.gather(*(task_writer(100 + k) for k in range(8)))

        threads = [threading.Thread(target=thread_writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for got in asyncio.run(tasks()):
            with lock:
                seqs.extend(got)
        for t in threads:
            t.join()
        assert writer.entries == 640 and writer.batches < 640
        assert writer.queue_depth == 0
    assert sorted(seqs) == list(range(before, before + 640))
    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw, deep=True)
    assert report.ok, report.problems
    assert report.size == before + 640


def test_a_failed_batch_fails_every_waiter_then_the_writer_recovers(container: Container) -> None:
    with GroupCommitWriter(container.uow, container.audit) as writer:
        assert writer.submit(ev(0)).result(timeout=30) >= 0
        with container.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_head RENAME TO audit_head_away"))
        futures = [writer.submit(ev(i)) for i in range(20)]
        for f in futures:
            with pytest.raises(AuditWriteFailed) as err:
                f.result(timeout=30)
            assert err.value.code == "audit_unavailable" and err.value.__cause__ is not None
        with container.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_head_away RENAME TO audit_head"))
        assert writer.submit(ev(99)).result(timeout=30) >= 1
    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw)
    assert report.ok, report.problems


def test_a_poison_event_fails_alone(container: Container) -> None:
    with GroupCommitWriter(container.uow, container.audit) as writer:
        good = [writer.submit(ev(i)) for i in range(5)]
        with pytest.raises(AuditEventInvalid):
            writer.submit(ev(5, blob=object()))

        async def bad() -> None:
            await writer.append(ev(6, nan=float("nan")))

        with pytest.raises(AuditEventInvalid):
            asyncio.run(bad())
        good += [writer.submit(ev(i)) for i in range(6, 10)]
        assert len({f.result(timeout=30) for f in good}) == 9


def test_closed_writer_refuses(container: Container) -> None:
    writer = GroupCommitWriter(container.uow, container.audit)
    f: Future[int] = writer.submit(ev(1))
    writer.close()
    assert f.result(timeout=1) >= 0
    with pytest.raises(AuditWriteFailed):
        writer.submit(ev(2))


WORKER = """
import sys
from charter import bootstrap
from charter.audit.writer import GroupCommitWriter
from charter.core.events import AuditEvent
from charter.settings import Settings
c = bootstrap.build(Settings())
with GroupCommitWriter(c.uow, c.audit, max_batch=20) as w:
    fs = [w.submit(AuditEvent("app:p%s" % sys.argv[1], "inference.allow", "deployment:d", details={"i": i},
                              governance=False)) for i in range(150)]
    print(len({f.result(timeout=60) for f in fs}))
"""


def test_several_processes_append_to_one_tree(container: Container, settings: Settings) -> None:
    before = size(container)
    env = {**env_for(settings), "PYTHONPATH": ":".join(sys.path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(k)], env=env, stdout=subprocess.PIPE, text=True)
        for k in range(3)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "150"
    assert size(container) == before + 450
    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw, deep=True)
    assert report.ok, report.problems


def test_fenced_entries_decided_on_a_superseded_license_state_are_not_written(container: Container) -> None:
    """The gateway's revocation ordering: no allow decided on version v is ordered after the change to v + 1."""

    def bump() -> int:
        with container.uow() as uow:
            version = repository.bump_state_version(uow)
            uow.commit()
        return version

    v1 = bump()
    with GroupCommitWriter(container.uow, container.audit, fence=repository.fence_version) as writer:
        assert writer.submit(ev(1), fence=v1).result(timeout=30) >= 0  # current state: written
        v2 = bump()
        before = size(container)
        with pytest.raises(FenceMoved) as moved:
            writer.submit(ev(2), fence=v1).result(timeout=30)
        assert (moved.value.fence, moved.value.current) == (v1, v2)
        assert size(container) == before  # nothing written
        # One batch mixing stale, current and unfenced entries: only the stale one is refused.
        futures = [writer.submit(ev(3), fence=v1), writer.submit(ev(4), fence=v2), writer.submit(ev(5))]
        with pytest.raises(FenceMoved):
            futures[0].result(timeout=30)
        assert futures[1].result(timeout=30) >= 0 and futures[2].result(timeout=30) >= 0
        assert size(container) == before + 2
    with GroupCommitWriter(container.uow, container.audit) as plain, pytest.raises(ValueError, match="fence"):
        plain.submit(ev(6), fence=v2)  # a fence nobody can check is refused, never ignored
    assert verify_database(container.engine, public_raw=container.keys.audit.public_raw).ok


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_sqlite_wal_stays_bounded_under_continuous_appends(container: Container, settings: Settings) -> None:
    """Checkpoints run beside the writer, not in its commits; the writer still lets the WAL restart from its start."""
    with GroupCommitWriter(container.uow, container.audit) as writer:

        async def caller(k: int) -> None:
            for i in range(1500):
                await writer.append(ev(k * 10_000 + i))

        async def load() -> None:
            await asyncio.gather(*(caller(k) for k in range(16)))

        asyncio.run(load())
        wal = settings.home / "charter.db-wal"
        assert writer.batches > 64 and wal.stat().st_size < 20 << 20, (writer.batches, wal.stat().st_size)
    assert size(container) >= 24_000


def test_a_job_rides_in_a_batch_and_a_failing_job_is_undone_alone(container: Container) -> None:
    with GroupCommitWriter(container.uow, container.audit) as writer:
        entries = [writer.submit(ev(i)) for i in range(10)]

        def count(conn: Connection) -> int:
            return int(conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one())

        def poison(conn: Connection) -> None:
            conn.execute(text("UPDATE audit_head SET size = -1 WHERE id = 1"))  # undone with its savepoint
            raise RuntimeError("the job failed")

        counted = writer.run_in_batch(count)
        failed = writer.run_in_batch(poison)
        after = [writer.submit(ev(i)) for i in range(10, 20)]
        assert counted.result(timeout=30) >= 10
        with pytest.raises(RuntimeError, match="the job failed"):
            failed.result(timeout=30)
        assert len({f.result(timeout=30) for f in entries + after}) == 20
        only_job = writer.run_in_batch(count)  # a batch with no entries at all
        assert only_job.result(timeout=30) == size(container)
    with pytest.raises(AuditWriteFailed):
        writer.run_in_batch(count)
    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw)
    assert report.ok, report.problems


def test_a_failed_batch_fails_its_jobs(container: Container) -> None:
    with GroupCommitWriter(container.uow, container.audit) as writer:
        with container.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_head RENAME TO audit_head_away"))
        try:
            job = writer.run_in_batch(lambda conn: 1)
            entry = writer.submit(ev(1))
            with pytest.raises(AuditWriteFailed):
                entry.result(timeout=30)
            with pytest.raises(AuditWriteFailed):
                job.result(timeout=30)
        finally:
            with container.engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_head_away RENAME TO audit_head"))


def test_checkpoints_are_written_in_the_writers_batches(container: Container) -> None:
    checkpointer = container.audit_log.checkpointer
    with GroupCommitWriter(container.uow, container.audit) as writer:
        checkpointer.use_writer(writer)
        try:
            for i in range(5):
                writer.submit(ev(i)).result(timeout=30)
            batches = writer.batches
            cp = checkpointer.checkpoint()
            assert cp is not None and cp.size == size(container)
            assert writer.batches == batches + 1  # the row went in a batch of the writer, not a transaction of its own
            assert checkpointer.checkpoint() == cp  # nothing new: no second row
            writer.submit(ev(9)).result(timeout=30)
            later = checkpointer.checkpoint()
            assert later is not None and later.size == cp.size + 1
        finally:
            checkpointer.use_writer(None)
    with pytest.raises(AuditWriteFailed):
        writer.run_in_batch(lambda conn: 1)
    writer_closed = checkpointer.checkpoint()  # detached: its own transaction again
    assert writer_closed is not None and writer_closed.size == size(container)
    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw)
    assert report.ok and report.checkpoints >= 2, report.problems
