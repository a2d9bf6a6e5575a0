"""The AuditSink every domain writes through: entries in the caller's transaction, extending the tree.

Entry format (stable; `docs/audit.md`): the RFC 8785 canonical JSON of
`{"v": 1, "seq", "ts", "actor", "action", "resource", "outcome", "details"}`, or, for an event with sensitive values,
`{"v": 2, …, "details", "digests", "hmac_key"}` where `digests` maps each sensitive field to `"hmac-sha256:<hex>"`
under the deployment's HMAC key and `hmac_key` is that key's id (`charter.core.signing.hmac_key_id`), so a verifier
knows which key made them (version 1 entries with digests, from before key ids, have no `hmac_key`). The stored bytes
are the leaf data.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from charter.audit.canonical import canonical_document
from charter.audit.merkle import EMPTY_ROOT, CompactTree
from charter.audit.tables import ENTRIES, HEAD
from charter.core.clock import isoformat, utcnow
from charter.core.errors import ErrorCode, Unavailable
from charter.core.events import AuditEvent
from charter.core.signing import hmac_key_id

ENTRY_SCHEMA = 1
DIGESTS_SCHEMA = 2  # version 1 and the id of the HMAC key that made the digests
HMAC_PREFIX = "hmac-sha256:"

log = logging.getLogger("charter.audit")

Executor = Session | Connection
Prepared = tuple[
    bytes, str, str, str, str, int
]  # canonical body up to `seq`, then the actor/action/resource/outcome columns, then the entry format version


class AuditHeadMissing(Unavailable):
    code = ErrorCode.AUDIT_HEAD_MISSING


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the padded key hashed once: a third of `hmac.new` per value."""

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, data: bytes) -> str:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class AuditSink:
    """Appends canonical entries and extends the Merkle head row in the same transaction."""

    def __init__(self, hmac_key: bytes) -> None:
        self._hmac = _HmacSha256(hmac_key)
        self.hmac_id = hmac_key_id(hmac_key)
        self._listeners: list[Callable[[], None]] = []
        self._ts_bind: dict[str, Callable[[Any], Any]] = {}

    def digest(self, value: bytes | str) -> str:
        """`hmac-sha256:<hex>` of a sensitive value under the per-install key."""
        return HMAC_PREFIX + self._hmac.hexdigest(value if isinstance(value, bytes) else value.encode())

    def entry_document(self, seq: int, event: AuditEvent, ts: str) -> dict[str, Any]:
        """The JSON document of one entry; its canonical bytes are the stored body (see `prepare`)."""
        doc: dict[str, Any] = {
            "v": DIGESTS_SCHEMA if event.sensitive else ENTRY_SCHEMA,
            "seq": seq,
            "ts": ts,
            "actor": event.actor,
            "action": event.action,
            "resource": event.resource,
            "outcome": event.outcome,
            "details": dict(event.details),
        }
        if event.sensitive:
            doc["digests"] = {k: self.digest(v) for k, v in event.sensitive.items()}
            doc["hmac_key"] = self.hmac_id
        return doc

    def prepare(self, event: AuditEvent) -> Prepared:
        """Everything of an entry that does not depend on its position: the canonical body up to `seq`.

        The keys `seq`, `ts` and `v` sort after all others, so the body is this prefix followed by
        `,"seq":N,"ts":"T","v":V}`. Raises ValueError when the details are not JSON. Safe to call from any thread.
        """
        details = event.details if type(event.details) is dict else dict(event.details)
        doc: dict[str, Any] = {
            "action": event.action,
            "actor": event.actor,
            "details": details,
            "outcome": event.outcome,
            "resource": event.resource,
        }
        version = ENTRY_SCHEMA
        if event.sensitive:
            doc["digests"] = {k: self.digest(v) for k, v in event.sensitive.items()}
            doc["hmac_key"] = self.hmac_id
            version = DIGESTS_SCHEMA
        head = canonical_document(doc)
        return head[:-1], event.actor[:140], event.action[:80], event.resource[:200], event.outcome, version

    def append(self, session: Executor, event: AuditEvent) -> int:
        """Append one entry in the caller's transaction; returns its sequence number."""
        return self.append_prepared(session, [self.prepare(event)])[-1]

    def append_many(self, session: Executor, events: Sequence[AuditEvent]) -> list[int]:
        """Append events in order in the caller's transaction; the head row lock serializes writers across processes."""
        return self.append_prepared(session, [self.prepare(e) for e in events])

    def lock_head(self, session: Executor) -> None:
        """Take the head lock now, before appending (SQLite's BEGIN IMMEDIATE already holds the database's)."""
        conn = session.connection() if isinstance(session, Session) else session
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(_SELECT_HEAD_PG).all()

    def append_prepared(self, session: Executor, items: Sequence[Prepared]) -> list[int]:
        """`append_many` for events already prepared (by the caller's thread, in the group-commit writer)."""
        if not items:
            return []
        conn = session.connection() if isinstance(session, Session) else session
        pg = conn.dialect.name == "postgresql"
        # The driver's cursor, inside the caller's transaction: SQLAlchemy's per-statement work costs more than
        # the statements themselves at group-commit rates.
        cur: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(_SELECT_HEAD_PG if pg else _SELECT_HEAD)
            head = cur.fetchone()
            if head is None:
                _create_head(conn)
                cur.execute(_SELECT_HEAD_PG if pg else _SELECT_HEAD)
                head = cur.fetchone()
                if head is None:
                    raise AuditHeadMissing("the audit head row is missing: run `charter migrate`")
            size, compact = head
            if isinstance(compact, str | bytes):
                compact = json.loads(compact)
            tree = CompactTree(size, [bytes.fromhex(h) for h in compact])
            start = tree.size
            now = utcnow()
            tail = b',"seq":%d,"ts":"' + isoformat(now).encode() + b'","v":1}'
            tail2 = tail[:-2] + b"2}"
            ts_db = self._ts_param(conn.dialect)(now)
            if not pg and isinstance(ts_db, datetime):
                ts_db = ts_db.isoformat(" ")  # what sqlite3's adapter stores, computed once instead of per row
            sha256 = hashlib.sha256
            rows: list[tuple[Any, ...]] = []
            leaves: list[bytes] = []
            for seq, (prefix, actor, action, resource, outcome, version) in enumerate(items, start):
                body = prefix + (tail2 if version == DIGESTS_SCHEMA else tail) % seq
                leaf = sha256(b"\x00" + body).digest()
                leaves.append(leaf)
                rows.append((seq, ts_db, actor, action, resource, outcome, body, leaf))
            nodes = tree.extend(leaves)
            mark = "%s" if pg else "?"
            if pg and len(rows) >= _COPY_FROM:
                with cur.copy(_COPY_ENTRIES) as copy:
                    for row in rows:
                        copy.write_row(row)
            elif pg:
                cur.executemany(_INSERT_ENTRIES.replace("?", mark), rows)
            else:
                _insert_sqlite(cur, rows)
            if nodes:
                cur.executemany(_INSERT_NODES.replace("?", mark), nodes)
            state = json.dumps([h.hex() for h in tree.hashes])
            update = (_UPDATE_HEAD_PG if pg else _UPDATE_HEAD).replace("?", mark)
            cur.execute(update, (tree.size, state, tree.root(), ts_db))
        finally:
            cur.close()
        return list(range(start, tree.size))

    def _ts_param(self, dialect: Dialect) -> Callable[[Any], Any]:
        """The driver value of a `ts` column value (what SQLAlchemy's UTCDateTime would bind)."""
        proc = self._ts_bind.get(dialect.name)
        if proc is None:
            bound = ENTRIES.c.ts.type.bind_processor(dialect)
            proc = bound if bound is not None else _identity
            self._ts_bind[dialect.name] = proc
        return proc

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each governance entry commits (the checkpointer's wake-up); must be cheap."""
        self._listeners.append(listener)

    def after_commit(self, event: AuditEvent) -> None:
        """After a governance change commits, ask for a checkpoint (listeners only set a flag)."""
        if not event.governance:
            return
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # a wake-up must never fail the use case that already committed
                log.exception("audit checkpoint trigger failed")


def _identity(value: Any) -> Any:
    return value


_INSERT_ENTRIES_HEAD = "INSERT INTO audit_entries (seq, ts, actor, action, resource, outcome, body, leaf_hash) VALUES "
_INSERT_ENTRIES = _INSERT_ENTRIES_HEAD + "(?, ?, ?, ?, ?, ?, ?, ?)"
_COPY_FROM = 16
_COPY_ENTRIES = "COPY audit_entries (seq, ts, actor, action, resource, outcome, body, leaf_hash) FROM STDIN"
_INSERT_NODES = "INSERT INTO audit_nodes (height, idx, hash) VALUES (?, ?, ?)"
_SELECT_HEAD = "SELECT size, compact FROM audit_head WHERE id = 1"
_SELECT_HEAD_PG = _SELECT_HEAD + " FOR UPDATE"
_UPDATE_HEAD = "UPDATE audit_head SET size = ?, compact = ?, root = ?, updated_at = ? WHERE id = 1"
_UPDATE_HEAD_PG = "UPDATE audit_head SET size = ?, compact = ?::jsonb, root = ?, updated_at = ? WHERE id = 1"


_SQLITE_CHUNK = 500  # rows per INSERT: 4,000 parameters, far below SQLite's limit
_sqlite_inserts: dict[int, str] = {}


def _insert_sqlite(cur: Any, rows: list[tuple[Any, ...]]) -> None:
    """Multi-row INSERTs: one statement (one step, one GIL release) per 500 rows instead of one per row.

    The sqlite3 module releases the GIL around every step; under a busy event loop each re-acquisition waits for the
    loop's thread, so per-row steps made a batch cost one GIL hand-off per entry.
    """
    for i in range(0, len(rows), _SQLITE_CHUNK):
        chunk = rows[i : i + _SQLITE_CHUNK]
        sql = _sqlite_inserts.get(len(chunk))
        if sql is None:
            sql = _sqlite_inserts[len(chunk)] = _INSERT_ENTRIES_HEAD + ",".join(["(?,?,?,?,?,?,?,?)"] * len(chunk))
        cur.execute(sql, [v for row in chunk for v in row])


def _create_head(conn: Connection) -> None:
    """Create the head row if absent, race-free on both backends (normally the migration already did)."""
    values = {"id": 1, "size": 0, "compact": [], "root": EMPTY_ROOT, "updated_at": utcnow()}
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(HEAD).values(values).on_conflict_do_nothing(index_elements=["id"]))
    else:
        conn.execute(sqlite.insert(HEAD).values(values).on_conflict_do_nothing(index_elements=["id"]))
