"""Queries over the audit tables (never commits): head, entries, leaf hashes, stored nodes, checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import Session

from charter.audit.merkle import EMPTY_ROOT, STORED_LEVELS, largest_power_of_two_below, node_hash, perfect_root
from charter.audit.sink import Executor
from charter.audit.tables import CHECKPOINTS, ENTRIES, HEAD, NODES
from charter.core.errors import CharterError, ErrorCode, ErrorKind, NotFound


class AuditStoreError(CharterError):
    kind = ErrorKind.FAILED
    code = ErrorCode.AUDIT_LOG_DAMAGED


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    root: bytes
    compact: list[bytes]
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root: bytes
    compact: list[bytes]
    origin: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Filters for listing and exporting; `action`/`resource` ending in `*` match a prefix."""

    actor: str | None = None
    action: str | None = None
    resource: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def connection(s: Executor) -> Connection:
    """The connection under a session (or the connection itself)."""
    return s.connection() if isinstance(s, Session) else s


def stored_head(s: Executor) -> Head | None:
    """The head row as stored (its root as written), or None before the migration created it."""
    row = s.execute(select(HEAD.c.size, HEAD.c.root, HEAD.c.compact, HEAD.c.updated_at).where(HEAD.c.id == 1)).first()
    if row is None:
        return None
    return Head(row.size, bytes(row.root), [bytes.fromhex(h) for h in row.compact], row.updated_at)


def head(s: Executor) -> Head:
    """The head row (an empty tree when it does not exist yet)."""
    stored = stored_head(s)
    if stored is None:
        return Head(0, EMPTY_ROOT, [], None)
    return Head(stored.size, stored.root or EMPTY_ROOT, stored.compact, stored.updated_at)


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        size=row.size,
        root=bytes(row.root),
        compact=[bytes.fromhex(h) for h in row.compact],
        origin=row.origin,
        note=row.note,
        created_at=row.created_at,
    )


def latest_checkpoint(s: Executor) -> StoredCheckpoint | None:
    row = s.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.size.desc()).limit(1)).first()
    return None if row is None else _checkpoint(row)


def checkpoint_covering(s: Executor, size: int) -> StoredCheckpoint | None:
    """The smallest checkpoint of at least `size` entries."""
    q = select(CHECKPOINTS).where(CHECKPOINTS.c.size >= size).order_by(CHECKPOINTS.c.size).limit(1)
    row = s.execute(q).first()
    return None if row is None else _checkpoint(row)


def checkpoint_at(s: Executor, size: int) -> StoredCheckpoint | None:
    row = s.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.size == size)).first()
    return None if row is None else _checkpoint(row)


def checkpoints(
    s: Executor, *, first: int = 0, last: int | None = None, limit: int | None = None
) -> list[StoredCheckpoint]:
    """Checkpoints with first <= size <= last, smallest first."""
    q = select(CHECKPOINTS).where(CHECKPOINTS.c.size >= first).order_by(CHECKPOINTS.c.size)
    if last is not None:
        q = q.where(CHECKPOINTS.c.size <= last)
    if limit is not None:
        q = q.limit(limit)
    return [_checkpoint(r) for r in s.execute(q)]


def _filtered(q: Select[Any], f: EntryFilter) -> Select[Any]:
    for column, value in ((ENTRIES.c.actor, f.actor), (ENTRIES.c.action, f.action), (ENTRIES.c.resource, f.resource)):
        if value is None:
            continue
        if value.endswith("*"):
            prefix = value[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(column.like(prefix + "%", escape="\\"))
        else:
            q = q.where(column == value)
    if f.since is not None:
        q = q.where(ENTRIES.c.ts >= f.since)
    if f.until is not None:
        q = q.where(ENTRIES.c.ts < f.until)
    return q


def list_entries(
    s: Executor, f: EntryFilter, *, cursor: int | None = None, limit: int = 100, newest_first: bool = True
) -> list[tuple[int, bytes, bytes]]:
    """(seq, body, leaf hash) of matching entries, a page after `cursor` (exclusive) in the chosen order."""
    q = _filtered(select(ENTRIES.c.seq, ENTRIES.c.body, ENTRIES.c.leaf_hash), f)
    if newest_first:
        if cursor is not None:
            q = q.where(ENTRIES.c.seq < cursor)
        q = q.order_by(ENTRIES.c.seq.desc())
    else:
        if cursor is not None:
            q = q.where(ENTRIES.c.seq > cursor)
        q = q.order_by(ENTRIES.c.seq)
    return [(r.seq, bytes(r.body), bytes(r.leaf_hash)) for r in s.execute(q.limit(limit))]


def seq_range(s: Executor, f: EntryFilter) -> tuple[int, int] | None:
    """[first, last + 1) of the entries matching the time window of `f` (None when there are none)."""
    row = s.execute(_filtered(select(func.min(ENTRIES.c.seq), func.max(ENTRIES.c.seq)), f)).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1]) + 1


SUMMARY = ("seq", "ts", "actor", "action", "resource", "outcome")


@dataclass(frozen=True, slots=True)
class PrefixFilter:
    """The dashboard's filters: `actor`/`action`/`resource` match a prefix, `outcome` exactly (empty: any)."""

    actor: str = ""
    action: str = ""
    resource: str = ""
    outcome: str = ""


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _prefix_filtered(q: Select[Any], f: PrefixFilter) -> Select[Any]:
    for column, value in ((ENTRIES.c.actor, f.actor), (ENTRIES.c.action, f.action), (ENTRIES.c.resource, f.resource)):
        if value:
            q = q.where(column.like(_like_prefix(value), escape="\\"))
    if f.outcome:
        q = q.where(ENTRIES.c.outcome == f.outcome)
    return q


def summaries(s: Executor, f: PrefixFilter, *, before: int | None, limit: int) -> list[dict[str, Any]]:
    """The `SUMMARY` columns of up to `limit` matching entries below `before` (exclusive), newest first."""
    q = _prefix_filtered(select(*(ENTRIES.c[c] for c in SUMMARY)), f)
    if before is not None:
        q = q.where(ENTRIES.c.seq < before)
    rows = s.execute(q.order_by(ENTRIES.c.seq.desc()).limit(limit)).all()
    return [dict(zip(SUMMARY, r, strict=True)) for r in rows]


def count_matching(s: Executor, f: PrefixFilter) -> int:
    """How many entries match `f`."""
    return int(s.execute(_prefix_filtered(select(func.count()).select_from(ENTRIES), f)).scalar() or 0)


def find_entry(s: Executor, seq: int) -> Any | None:
    """Entry `seq` with its `SUMMARY` columns, `body` and `leaf_hash`, or None."""
    cols = (*(ENTRIES.c[c] for c in SUMMARY), ENTRIES.c.body, ENTRIES.c.leaf_hash)
    return s.execute(select(*cols).where(ENTRIES.c.seq == seq)).first()


def entry(s: Executor, seq: int) -> tuple[bytes, bytes]:
    """(body, leaf hash) of entry `seq`."""
    row = s.execute(select(ENTRIES.c.body, ENTRIES.c.leaf_hash).where(ENTRIES.c.seq == seq)).first()
    if row is None:
        raise NotFound(
            f"audit entry {seq} does not exist (see: charter audit log)", code=ErrorCode.AUDIT_ENTRY_NOT_FOUND
        )
    return bytes(row.body), bytes(row.leaf_hash)


def iter_entries(s: Executor, first: int = 0, end: int | None = None, *, chunk: int = 20_000) -> Iterator[Any]:
    """Rows (seq, ts, actor, action, resource, outcome, body, leaf_hash) in seq order, fetched in chunks."""
    after = first - 1
    cols = (ENTRIES.c.seq, ENTRIES.c.actor, ENTRIES.c.action, ENTRIES.c.resource, ENTRIES.c.outcome)
    while True:
        q = select(*cols, ENTRIES.c.ts, ENTRIES.c.body, ENTRIES.c.leaf_hash).where(ENTRIES.c.seq > after)
        if end is not None:
            q = q.where(ENTRIES.c.seq < end)
        rows = s.execute(q.order_by(ENTRIES.c.seq).limit(chunk)).all()
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1].seq


def leaf_hashes(s: Executor, start: int, end: int) -> list[bytes]:
    """Stored leaf hashes of entries [start, end); a gap is an error that names the missing entry."""
    q = select(ENTRIES.c.seq, ENTRIES.c.leaf_hash).where(ENTRIES.c.seq >= start, ENTRIES.c.seq < end)
    out = []
    for expected, row in enumerate(s.execute(q.order_by(ENTRIES.c.seq)), start):
        if row.seq != expected:
            raise AuditStoreError(f"audit entry {expected} is missing: run `charter audit verify`")
        out.append(bytes(row.leaf_hash))
    if len(out) != end - start:
        raise AuditStoreError(f"audit entry {start + len(out)} is missing: run `charter audit verify`")
    return out


def stored_nodes(s: Executor, height: int, first: int, end: int) -> dict[int, bytes]:
    q = select(NODES.c.idx, NODES.c.hash).where(NODES.c.height == height, NODES.c.idx >= first, NODES.c.idx < end)
    return {r.idx: bytes(r.hash) for r in s.execute(q)}


class TreeReader:
    """Merkle tree hashes of any range of the stored log: stored nodes where they exist, else leaf hashes."""

    def __init__(self, s: Executor, size: int) -> None:
        self.s = s
        self.size = size
        self._memo: dict[tuple[int, int], bytes] = {}

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end) (RFC 6962 split at the largest power of two)."""
        if not 0 <= start < end <= self.size:
            raise ValueError(f"range [{start}, {end}) is outside a tree of {self.size} leaves")
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.perfect(start, n.bit_length() - 1)
        k = largest_power_of_two_below(n)
        return node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))

    def perfect(self, start: int, height: int, max_stored: int = STORED_LEVELS[-1]) -> bytes:
        """Root of the aligned perfect subtree of `height` at `start`."""
        key = (start, height)
        if key in self._memo:
            return self._memo[key]
        levels = [lv for lv in STORED_LEVELS if lv <= min(height, max_stored)]
        if not levels:
            result = perfect_root(leaf_hashes(self.s, start, start + (1 << height)))
        else:
            lv = levels[-1]
            first = start >> lv
            count = 1 << (height - lv)
            stored = stored_nodes(self.s, lv, first, first + count)
            hashes = [stored.get(i) or self.perfect(i << lv, lv, lv - 1) for i in range(first, first + count)]
            result = perfect_root(hashes)
        self._memo[key] = result
        return result
