"""Signs checkpoints: only ever one that is consistent with the previous checkpoint, verified before signing.

The expensive part (reading and re-hashing the new entries, building and checking the consistency proof) runs in a
read transaction; the write transaction only re-checks that no other process checkpointed meanwhile and inserts the
row, so appenders are held up for a millisecond at most.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from charter.audit import store
from charter.audit.merkle import CompactTree, decompose, fold, mth
from charter.audit.note import Checkpoint, NoteError, Verifier, sign_note, verifier_key, verify_checkpoint
from charter.audit.proofs import consistency_proof, verify_consistency
from charter.audit.sink import AuditSink, Executor
from charter.audit.store import StoredCheckpoint
from charter.audit.tables import CHECKPOINTS
from charter.audit.witnessing import Witnessing, proof_from
from charter.audit.writer import AuditWriteFailed, GroupCommitWriter
from charter.core.clock import utcnow
from charter.core.errors import ErrorCode
from charter.core.signing import SigningKey
from charter.storage.uow import UnitOfWorkFactory

log = logging.getLogger("charter.audit.checkpoint")

DEFAULT_ORIGIN = "charter.local/audit"
ORIGIN_FILE = "audit-origin"
BATCH_WAIT_S = 30.0  # a batch commits in milliseconds; this only bounds a stuck database
_LOCK_KEY = 0x636861727465  # pg_advisory_xact_lock key for checkpoint writers ("charte")


def resolve_origin(home: Path, host: str = "", public_url: str | None = None) -> str:
    """The log's origin: `<data dir>/audit-origin` if present, else `<public URL host/path>/audit`, else
    `<host>/audit` for a DNS host name, else `charter.local/audit`."""
    path = home / ORIGIN_FILE
    if path.is_file():
        origin = path.read_text().strip()
        if origin and not any(c.isspace() or c == "+" for c in origin):
            return origin
        log.error("%s: origin must be one word without '+'; using %s", path, DEFAULT_ORIGIN)
        return DEFAULT_ORIGIN
    if public_url:
        parsed = urlsplit(public_url)
        if parsed.netloc and "+" not in public_url:
            return f"{parsed.netloc}{parsed.path.rstrip('/')}/audit"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host and host != "localhost" and "." in host:
            return f"{host}/audit"
    return DEFAULT_ORIGIN


class ConsistencyRefused(NoteError):
    code = ErrorCode.CHECKPOINT_REFUSED


class Checkpointer:
    """Signs a checkpoint of the current head when the log has grown; `request()` asks for one soon."""

    def __init__(self, uow: UnitOfWorkFactory, key: SigningKey, origin: str, *, interval_s: float = 1.0) -> None:
        self.uow = uow
        self.key = key
        self.configured_origin = origin
        self.interval_s = interval_s
        self.refused: str | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: GroupCommitWriter | None = None
        self.witnessing: Witnessing | None = None  # set when CHARTER_WITNESSES names witnesses

    # --- identity --------------------------------------------------------------------------------------------
    def origin(self) -> str:
        """The origin in use: fixed by the first checkpoint, else the configured one."""
        with self.uow(write=False) as uow:
            latest = store.latest_checkpoint(uow.session)
        return latest.origin if latest is not None else self.configured_origin

    def verifier_key(self) -> str:
        """The note verifier key (`name+hash+key`) that verifies this log's checkpoints."""
        return self.verifier_key_for(self.origin())

    def verifier_key_for(self, origin: str) -> str:
        return verifier_key(origin, self.key.public_raw)

    # --- signing ---------------------------------------------------------------------------------------------
    def checkpoint(self) -> StoredCheckpoint | None:
        """Sign the current head if it is ahead of the latest checkpoint; return the latest checkpoint."""
        with self._lock:
            try:
                return self._checkpoint()
            except ConsistencyRefused as exc:
                self.refused = exc.message
                log.critical("REFUSING TO SIGN AUDIT CHECKPOINT: %s. Run `charter audit verify` now.", exc.message)
                raise

    def _checkpoint(self) -> StoredCheckpoint | None:
        with self.uow(write=False) as uow:
            s = uow.session
            # Checkpoint first, head second: without a snapshot (PostgreSQL READ COMMITTED) a checkpoint signed by
            # another process in between could otherwise look larger than the head.
            prev = store.latest_checkpoint(s)
            head = store.head(s)
            if prev is not None and prev.size == head.size:
                if prev.root != head.root:
                    raise ConsistencyRefused(f"the head root differs from the root checkpoint {prev.size} signed")
                return prev
            if prev is not None and prev.size > head.size:
                raise ConsistencyRefused(
                    f"the head has {head.size} entries but checkpoint {prev.size} was signed: the log was truncated"
                )
            first = 0 if prev is None else prev.size
            seqs, bodies = _entries_between(s, first, head.size)
        expected = range(first, head.size)
        if seqs != list(expected):
            missing = next(e for e, seq in zip(expected, [*seqs, None], strict=False) if seq != e)
            raise ConsistencyRefused(f"entry {missing} is missing below the head ({head.size})")
        sha256 = hashlib.sha256
        leaves = [sha256(b"\x00" + body).digest() for body in bodies]
        origin = self.configured_origin
        if prev is not None:
            origin = prev.origin
            self._check_previous(prev)
        self._check_extension(prev, leaves, head)
        cp = Checkpoint(origin, head.size, head.root)
        return self._store(cp, first, head.compact)

    def _check_previous(self, prev: StoredCheckpoint) -> None:
        try:
            signed = verify_checkpoint(prev.note, Verifier.parse(verifier_key(prev.origin, self.key.public_raw)))
        except NoteError as exc:
            raise ConsistencyRefused(
                f"checkpoint {prev.size} does not verify with the audit key: {exc.message}"
            ) from None
        wrong_shape = len(prev.compact) != bin(prev.size).count("1")
        if (signed.size, signed.root) != (prev.size, prev.root) or wrong_shape or fold(prev.compact) != prev.root:
            raise ConsistencyRefused(f"stored state of checkpoint {prev.size} differs from what it signed")

    def _check_extension(self, prev: StoredCheckpoint | None, leaves: list[bytes], head: store.Head) -> None:
        """The head must extend the previous checkpoint by exactly these leaves (an RFC 9162 consistency proof)."""
        m = 0 if prev is None else prev.size
        n = head.size
        old_nodes = (
            {} if prev is None else {(a, a + (1 << h)): v for (a, h), v in zip(decompose(m), prev.compact, strict=True)}
        )

        def range_hash(a: int, b: int) -> bytes:
            if b <= m:
                return old_nodes[(a, b)]
            return mth(leaves[a - m : b - m])

        old_root = prev.root if prev is not None else mth([])
        tree = CompactTree(m, [] if prev is None else list(prev.compact))
        tree.extend(leaves)
        if tree.hashes != head.compact or tree.root() != head.root:
            raise ConsistencyRefused(f"the head (size {n}) is not the tree of the stored entries")
        proof = consistency_proof(m, n, range_hash)
        if not verify_consistency(m, n, old_root, head.root, proof):
            raise ConsistencyRefused(f"no valid consistency proof from checkpoint {m} to size {n}")

    def _store(self, cp: Checkpoint, expected_prev: int, compact: list[bytes]) -> StoredCheckpoint | None:
        note = sign_note(cp.body(), cp.origin, self.key)
        stored = StoredCheckpoint(cp.size, cp.root, compact, cp.origin, note, utcnow())
        writer = self._writer
        if writer is not None:
            try:  # in the group-commit writer's next batch: no write transaction of its own
                written = writer.run_in_batch(lambda conn: _insert(conn, stored, expected_prev)).result(BATCH_WAIT_S)
            except AuditWriteFailed:
                pass  # the writer is closing or its batch failed: write it alone below
            else:
                self.refused = None
                return written
        with self.uow() as uow:
            written = _insert(uow.session, stored, expected_prev)
            uow.commit()
        self.refused = None
        return written

    def witness(self, cp: StoredCheckpoint) -> None:
        """Submit a checkpoint to the witnesses (in the checkpoint thread: never on a request's path)."""
        assert self.witnessing is not None
        with self.uow(write=False) as uow:
            reader = store.TreeReader(uow.session, cp.size)
            self.witnessing.submit(cp.size, cp.note, proof_from(reader.range_hash))

    def use_writer(self, writer: GroupCommitWriter | None) -> None:
        """Write checkpoint rows through `writer`'s batches (None: in a transaction of their own again)."""
        self._writer = writer

    def latest(self, *, fresh: bool = False) -> StoredCheckpoint | None:
        """The latest checkpoint; with `fresh`, sign the head first when it is ahead."""
        if fresh:
            return self.checkpoint()
        with self.uow(write=False) as uow:
            return store.latest_checkpoint(uow.session)

    # --- background ------------------------------------------------------------------------------------------
    def request(self) -> None:
        """Ask for a checkpoint soon (cheap; called after every governance change commits)."""
        self._wake.set()

    def attach(self, sink: AuditSink) -> None:
        """Checkpoint after every governance entry the sink commits."""
        sink.subscribe(self.request)

    def start(self) -> None:
        """Run the checkpoint loop in a daemon thread: every `interval_s` while the log grows, and on request."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._wake.set()
        self._thread = threading.Thread(target=self._run, name="charter-audit-checkpointer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                cp = self.checkpoint()
                submitted = self.witnessing.latest if self.witnessing is not None else None
                if cp is not None and self.witnessing is not None and (submitted is None or submitted.size != cp.size):
                    self.witness(cp)
            except ConsistencyRefused:
                pass  # logged loudly by checkpoint(); keep refusing until an operator acts
            except Exception:
                log.exception("audit checkpoint failed; retrying in %.1fs", self.interval_s)


def _insert(s: Executor, cp: StoredCheckpoint, expected_prev: int) -> StoredCheckpoint | None:
    """Insert the checkpoint row unless another process signed one since `expected_prev`; return the latest."""
    if store.connection(s).dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    latest = store.latest_checkpoint(s)
    if (0 if latest is None else latest.size) != expected_prev:
        return latest  # another process signed meanwhile; the next round starts from its checkpoint
    s.execute(
        insert(CHECKPOINTS).values(
            size=cp.size,
            root=cp.root,
            compact=[h.hex() for h in cp.compact],
            origin=cp.origin,
            note=cp.note,
            created_at=cp.created_at,
        )
    )
    return cp


def _entries_between(session: Session, first: int, end: int) -> tuple[list[int], list[bytes]]:
    """Sequence numbers and bodies of entries [first, end), read on the driver's cursor (this runs every second)."""
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    cur: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(
            f"SELECT seq, body FROM audit_entries WHERE seq >= {mark} AND seq < {mark} ORDER BY seq", (first, end)
        )
        rows = cur.fetchall()
    finally:
        cur.close()
    return [int(r[0]) for r in rows], [bytes(r[1]) for r in rows]
