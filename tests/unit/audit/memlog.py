"""A real audit log in a throwaway SQLite file, and the ways an attacker with database access could rewrite it."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, event, text

from charter.audit.canonical import canonical
from charter.audit.checkpointer import Checkpointer
from charter.audit.export import verify_database
from charter.audit.merkle import EMPTY_ROOT, CompactTree
from charter.audit.sink import AuditSink
from charter.audit.tables import CHECKPOINTS, ENTRIES, HEAD, NODES
from charter.audit.verify import Report
from charter.core.events import AuditEvent
from charter.core.signing import SigningKey
from charter.storage.base import Base
from charter.storage.engine import make_engine
from charter.storage.uow import UnitOfWorkFactory

ORIGIN = "test.local/audit"


def make_event(i: int) -> AuditEvent:
    return AuditEvent(
        actor=f"user:u{i % 7}",
        action=("license.suspend", "inference.allow", "system.register")[i % 3],
        resource=f"license:lic_{i}",
        details={"n": i, "why": "x" * (i % 5), "ratio": i / 7},
        sensitive={"request": f"body {i}"} if i % 4 == 0 else {},
    )


def _fast(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA synchronous=OFF")


class MemLog:
    """Audit tables only (as migration 0002 creates them), a sink, a signing key and a checkpointer."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="charter-audit-"))
        self.engine: Engine = make_engine(f"sqlite:///{self.dir / 'audit.db'}")
        event.listen(self.engine, "connect", _fast)  # a throwaway file: skip fsync
        Base.metadata.create_all(self.engine, tables=[ENTRIES, HEAD, NODES, CHECKPOINTS])
        self.sink = AuditSink(b"k" * 32)
        self.uow = UnitOfWorkFactory(self.engine, self.sink)
        self.key = SigningKey(Ed25519PrivateKey.generate())
        self.checkpointer = Checkpointer(self.uow, self.key, ORIGIN)
        self.size = 0

    def close(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> MemLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, n: int, batch: int = 1) -> None:
        done = 0
        while done < n:
            k = min(batch, n - done)
            with self.uow() as uow:
                self.sink.append_many(uow.session, [make_event(self.size + j) for j in range(k)])
                uow.commit()
            self.size += k
            done += k

    def checkpoint(self) -> int:
        cp = self.checkpointer.checkpoint()
        assert cp is not None
        return cp.size

    def verify(self, *, deep: bool = False, trusted: tuple[str, ...] = ()) -> Report:
        return verify_database(self.engine, public_raw=self.key.public_raw, deep=deep, trusted=trusted)

    # --- raw access ---------------------------------------------------------------------------------------------
    def sql(self, statement: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            return (
                conn.execute(text(statement), params).all()
                if statement.lstrip().upper().startswith("SELECT")
                else conn.execute(text(statement), params)
            )

    def rows(self) -> list[tuple[int, bytes]]:
        return [(r[0], bytes(r[1])) for r in self.sql("SELECT seq, body FROM audit_entries ORDER BY seq")]


# --- tampering: a naive attacker edits rows; a thorough one also recomputes every derived value ------------------
def body_with(body: bytes, **changes: Any) -> bytes:
    doc = orjson.loads(body)
    doc.update(changes)
    return canonical(doc)


def edit(log: MemLog, i: int, *, fix_leaf: bool) -> None:
    (body,) = log.sql("SELECT body FROM audit_entries WHERE seq = :s", s=i)[0]
    new = body_with(bytes(body), outcome="denied" if b'"outcome":"success"' in bytes(body) else "success")
    leaf = hashlib.sha256(b"\x00" + new).digest()
    if fix_leaf:
        log.sql("UPDATE audit_entries SET body = :b, leaf_hash = :l WHERE seq = :s", b=new, l=leaf, s=i)
    else:
        log.sql("UPDATE audit_entries SET body = :b WHERE seq = :s", b=new, s=i)


def delete(log: MemLog, i: int) -> None:
    log.sql("DELETE FROM audit_entries WHERE seq = :s", s=i)


def swap(log: MemLog, i: int, j: int) -> None:
    a = log.sql("SELECT body, leaf_hash FROM audit_entries WHERE seq = :s", s=i)[0]
    b = log.sql("SELECT body, leaf_hash FROM audit_entries WHERE seq = :s", s=j)[0]
    log.sql("UPDATE audit_entries SET body = :b, leaf_hash = :l WHERE seq = :s", b=b[0], l=b[1], s=i)
    log.sql("UPDATE audit_entries SET body = :b, leaf_hash = :l WHERE seq = :s", b=a[0], l=a[1], s=j)


def truncate(log: MemLog, k: int) -> None:
    log.sql("DELETE FROM audit_entries WHERE seq >= :k", k=k)


def insert(log: MemLog, i: int) -> None:
    """Make room at position i (renumbering what follows) and put a forged entry there."""
    rows = log.rows()
    log.sql("DELETE FROM audit_entries WHERE seq >= :s", s=i)
    forged = canonical(
        {
            "v": 1,
            "seq": i,
            "ts": "2025-01-01T00:00:00Z",
            "actor": "user:mallory",
            "action": "license.approve",
            "resource": "license:x",
            "outcome": "success",
            "details": {},
        }
    )
    tail = [forged] + [b for s, b in rows if s >= i]
    for seq, body in enumerate(tail, i):
        _put(log, seq, body)


def _put(log: MemLog, seq: int, body: bytes) -> None:
    leaf = hashlib.sha256(b"\x00" + body).digest()
    log.sql(
        "INSERT INTO audit_entries (seq, ts, actor, action, resource, outcome, body, leaf_hash) "
        "VALUES (:s, '2025-01-01 00:00:00.000000', 'a', 'b', 'c', 'success', :b, :l)",
        s=seq,
        b=body,
        l=leaf,
    )


def rebuild(log: MemLog, *, renumber: bool) -> None:
    """The thorough attacker: renumber the bodies, recompute leaf hashes, stored nodes and the head."""
    rows = log.rows()
    log.sql("DELETE FROM audit_entries")
    log.sql("DELETE FROM audit_nodes")
    tree = CompactTree()
    for pos, (_, body) in enumerate(rows):
        if renumber:
            body = body_with(body, seq=pos)
        _put(log, pos, body)
        for h, idx, value in tree.extend([hashlib.sha256(b"\x00" + body).digest()]):
            log.sql("INSERT INTO audit_nodes (height, idx, hash) VALUES (:h, :i, :v)", h=h, i=idx, v=value)
    log.sql(
        "UPDATE audit_head SET size = :n, compact = :c, root = :r WHERE id = 1",
        n=tree.size,
        c=orjson.dumps([h.hex() for h in tree.hashes]).decode(),
        r=tree.root() if tree.size else EMPTY_ROOT,
    )
