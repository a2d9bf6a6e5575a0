"""Group commit for high-rate entries (inference decisions): one writer thread, one transaction per batch.

A caller is acknowledged only after its batch committed durably (SQLite `synchronous=FULL`, PostgreSQL
`synchronous_commit=on`); if the batch fails, every caller in it gets the error. Batches close at `max_batch` entries,
when `max_wait_ms` has passed since their first entry, or when no entry arrived for a short quiet gap. The quiet gap
is only waited for under load (the previous batch held more than one entry): a lone caller is written at once.

Fences: an entry may carry the version of the state it was decided on (the gateway's license state version). Inside
the batch's transaction, holding the head lock, the writer reads the current version; an entry whose fence is older
is not written and its caller gets `FenceMoved`. Every change of that state appends its own audit entry under the
same lock, so no entry decided on a superseded state is ever ordered after the entry of the change that superseded
it: the caller must decide again on the new state.

Jobs: other small writes that must be durable but need no commit of their own (the checkpointer's signed row) ride
along in the next batch (`run_in_batch`), under a savepoint: a failing job is undone alone, and the entries beside
it commit. That saves the log a second write transaction (and `fsync`) that appenders would otherwise wait behind.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from charter.audit.sink import AuditSink
from charter.core import tracing
from charter.core.errors import ErrorCode, InvalidInput, Unavailable
from charter.core.events import AuditEvent
from charter.storage.uow import UnitOfWorkFactory

log = logging.getLogger("charter.audit.writer")

_Waiter = Future[int] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[int]"]
_STOP: Any = object()
WAL_CHECKPOINT_S = 0.25
WAL_RESET_BATCHES = 64
FenceReader = Callable[[Connection], int]
T = TypeVar("T")


class _Job:
    """A write run inside a batch's transaction (see `run_in_batch`)."""

    __slots__ = ("fn", "outcome")

    def __init__(self, fn: Callable[[Connection], Any]) -> None:
        self.fn = fn
        self.outcome: tuple[bool, Any] = (False, None)


class AuditWriteFailed(Unavailable):
    """The audit entry could not be made durable: the action it records must not be acknowledged."""

    code = ErrorCode.AUDIT_UNAVAILABLE


class AuditEventInvalid(InvalidInput):
    """The event cannot be written: its details are not JSON (raised by submit/append, nothing is queued)."""

    code = ErrorCode.AUDIT_EVENT_INVALID


class FenceMoved(Exception):
    """The state the entry was decided on changed before it could be written: nothing was written, decide again."""

    def __init__(self, fence: int, current: int) -> None:
        super().__init__(f"decided on state version {fence}, the database is at {current}")
        self.fence = fence
        self.current = current


class GroupCommitWriter:
    """Thread-safe: `submit(event) -> Future[int]` from threads, `await append(event)` from asyncio."""

    def __init__(
        self,
        target: UnitOfWorkFactory | Engine,
        sink: AuditSink,
        *,
        max_batch: int = 500,
        max_wait_ms: float = 2.0,
        quiet_ms: float = 0.2,
        fence: FenceReader | None = None,
    ) -> None:
        self.engine: Engine = target.engine if isinstance(target, UnitOfWorkFactory) else target
        self.sink = sink
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.quiet = min(quiet_ms / 1000, self.max_wait)
        self._fence = fence
        self.batches = 0
        self.entries = 0
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._jobs = 0  # jobs queued and not yet written (read by the writer thread to skip looking for them)
        self._lock = threading.Lock()
        self._closed = False
        self._conn: Connection | None = None
        self._wal_thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="charter-audit-writer", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """Entries waiting for the next batch."""
        return self._q.qsize()

    def submit(self, event: AuditEvent, *, fence: int | None = None) -> Future[int]:
        """Queue `event`; the future resolves to its sequence number once durable, or raises AuditWriteFailed.

        With `fence`, it raises FenceMoved instead when the fenced state moved past `fence` (module docstring).
        """
        fut: Future[int] = Future()
        self._put(event, fut, fence)
        return fut

    async def append(self, event: AuditEvent, *, fence: int | None = None) -> int:
        """Append `event` and wait (without blocking the event loop) until it is durable; returns its seq."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        self._put(event, (loop, fut), fence)
        return await fut

    def run_in_batch(self, fn: Callable[[Connection], T]) -> Future[T]:
        """Run `fn(connection)` inside the next batch's transaction, under a savepoint; the future resolves to its
        result once that batch committed, or raises what `fn` raised (then only `fn`'s writes are undone) or
        AuditWriteFailed (the batch failed). `fn` runs on the writer thread: it must be short."""
        fut: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise AuditWriteFailed("the audit writer is closed: the process is shutting down")
            self._jobs += 1
            self._q.put((_Job(fn), fut, None))
        return fut

    def _put(self, event: AuditEvent, waiter: _Waiter, fence: int | None) -> None:
        if fence is not None and self._fence is None:
            raise ValueError("this audit writer has no fence reader: it cannot check a fenced entry")
        try:
            prepared = self.sink.prepare(event)  # in the caller's thread, overlapping the writer's commit
        except (ValueError, TypeError) as exc:
            raise AuditEventInvalid(f"audit event is not JSON-serializable: {exc}") from exc
        with self._lock:
            if self._closed:
                raise AuditWriteFailed("the audit writer is closed: the process is shutting down")
            self._q.put((prepared, waiter, fence))

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, stop the thread, and fail anything that arrives later."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._q.put(_STOP)
        self._thread.join(timeout)
        self._stopped.set()
        if self._wal_thread is not None:
            self._wal_thread.join(timeout)
        leftover = []
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                leftover.append(item)
        if leftover:
            _fail(leftover, AuditWriteFailed("the audit writer closed before this entry was written"))

    def __enter__(self) -> GroupCommitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writer thread ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        q = self._q
        stopping = False
        last = 0
        while not stopping:
            first = q.get()
            if first is _STOP:
                break
            batch = [first]
            stopping = self._collect(batch, self.quiet if last > 1 else 0.0)
            last = len(batch)
            self._write(batch)
        self._drop_connection()

    def _collect(self, batch: list[Any], quiet: float) -> bool:
        """Add queued items to `batch` until it is full, its wait is over or the queue stays quiet; True on stop."""
        q = self._q
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                item = q.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or quiet <= 0:
                    return False
                try:
                    item = q.get(timeout=min(remaining, quiet))
                except queue.Empty:
                    return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            if self.engine.dialect.name == "sqlite":
                conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
                # WAL checkpoints (copying the log into the database file and syncing it) run in the background
                # thread below, not inside a commit that callers are waiting for.
                conn.connection.dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[union-attr]
                self._start_wal_checkpoints()
            elif self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET synchronous_commit TO on")
                conn.commit()
            self._conn = conn
        return self._conn

    def _start_wal_checkpoints(self) -> None:
        if self._wal_thread is None:
            self._wal_thread = threading.Thread(target=self._wal_loop, name="charter-audit-wal", daemon=True)
            self._wal_thread.start()

    def _wal_loop(self) -> None:
        """PASSIVE WAL checkpoints every WAL_CHECKPOINT_S while batches commit: they never block the writer."""
        seen = -1
        raw: Any = None
        while not self._stopped.wait(WAL_CHECKPOINT_S):
            if self.batches == seen:
                continue
            seen = self.batches
            try:
                if raw is None:
                    raw = self.engine.raw_connection()
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception:
                log.warning("background WAL checkpoint failed", exc_info=True)
                if raw is not None:
                    raw.invalidate()
                    raw = None
        if raw is not None:
            raw.close()

    def _finish_wal_checkpoint(self) -> None:
        """Between two batches, after their callers were answered: copy what the background checkpoints left, so
        the next batch restarts the WAL from its beginning (a checkpoint that runs beside a busy writer never
        catches up with it, and the WAL would grow without end)."""
        try:
            conn = self._connection()
            conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # type: ignore[union-attr]
        except Exception:
            log.warning("WAL checkpoint between batches failed", exc_info=True)

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                log.debug("closing the audit writer connection failed", exc_info=True)

    def _write(self, batch: list[Any]) -> None:
        started = time.time_ns() if tracing.tracer() is not None else 0
        stale: list[Any] = []
        jobs: list[Any] = []
        current = 0
        if self._jobs:
            jobs = [b for b in batch if type(b[0]) is _Job]
            if jobs:
                batch = [b for b in batch if type(b[0]) is not _Job]
                with self._lock:
                    self._jobs -= len(jobs)
        try:
            conn = self._connection()
            with conn.begin():
                if self._fence is not None and any(f is not None for _, _, f in batch):
                    self.sink.lock_head(conn)  # changes of the fenced state wait for this batch, or precede it
                    current = self._fence(conn)
                    stale = [b for b in batch if b[2] is not None and b[2] < current]
                    if stale:
                        batch = [b for b in batch if b[2] is None or b[2] >= current]
                seqs = self.sink.append_prepared(conn, [item for item, _, _ in batch])
                for job, _, _ in jobs:
                    _run_job(conn, job)
        except Exception as exc:
            self._failed(batch + stale + jobs, exc)
            return
        self.batches += 1
        self.entries += len(batch)
        if started:
            tracing.record("audit.batch", started, {"audit.entries": len(seqs), "audit.first_seq": min(seqs, default=0),
                                                    "audit.last_seq": max(seqs, default=0)})  # fmt: skip
        _settle(batch, seqs)
        for job, fut, _ in jobs:
            ok, value = job.outcome
            try:
                fut.set_result(value) if ok else fut.set_exception(value)
            except InvalidStateError:
                pass
        for _, waiter, fence in stale:
            _fail([(None, waiter, fence)], FenceMoved(fence, current))
        if self._wal_thread is not None and self.batches % WAL_RESET_BATCHES == 0:
            self._finish_wal_checkpoint()  # after every caller of this batch, stale ones included, has its answer

    def _failed(self, batch: list[Any], exc: Exception) -> None:
        log.error("audit batch of %d entries failed: %s: %s", len(batch), type(exc).__name__, exc)
        self._drop_connection()
        err = AuditWriteFailed(f"the audit log could not be written ({type(exc).__name__}); retry later")
        err.__cause__ = exc
        _fail(batch, err)


def _run_job(conn: Connection, job: _Job) -> None:
    """Run a job under a savepoint: what it raises undoes its own writes only, and is handed to its caller."""
    try:
        with conn.begin_nested():
            job.outcome = (True, job.fn(conn))
    except Exception as exc:
        job.outcome = (False, exc)


def _settle(batch: Sequence[Any], seqs: Sequence[int]) -> None:
    loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int]]] = {}
    for (_, waiter, _), seq in zip(batch, seqs, strict=True):
        if isinstance(waiter, Future):
            try:
                waiter.set_result(seq)
            except InvalidStateError:
                pass  # cancelled by its caller; the entry is durable all the same
        else:
            loops.setdefault(waiter[0], []).append((waiter[1], seq))
    for loop, items in loops.items():
        try:
            loop.call_soon_threadsafe(_settle_async, items)
        except RuntimeError:
            pass  # that event loop is closed; nobody is waiting any more


def _settle_async(items: list[tuple[asyncio.Future[int], int]]) -> None:
    for fut, seq in items:
        if not fut.done():
            fut.set_result(seq)


def _fail(batch: Sequence[Any], exc: BaseException) -> None:
    loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[int]]] = {}
    for _, waiter, _ in batch:
        if isinstance(waiter, Future):
            try:
                waiter.set_exception(exc)
            except InvalidStateError:
                pass
        else:
            loops.setdefault(waiter[0], []).append(waiter[1])
    for loop, futs in loops.items():
        try:
            loop.call_soon_threadsafe(_fail_async, futs, exc)
        except RuntimeError:
            pass


def _fail_async(futs: list[asyncio.Future[int]], exc: BaseException) -> None:
    for fut in futs:
        if not fut.done():
            fut.set_exception(exc)
