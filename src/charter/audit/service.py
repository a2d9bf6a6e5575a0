"""The audit log's read side for entrypoints: entries, proofs, checkpoints, exports.

`audit` sits beside `auth`, so authorization happens in the entrypoints (permission `audit.read` in global scope).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine

from charter.audit import keyset, store
from charter.audit.checkpointer import Checkpointer, resolve_origin
from charter.audit.export import b64, csv_lines, jsonl_lines, plan_export
from charter.audit.merkle import EMPTY_ROOT
from charter.audit.note import NoteError, verify_checkpoint
from charter.audit.proofs import consistency_proof, verify_inclusion
from charter.audit.proofs import inclusion_proof as inclusion_proof_
from charter.audit.schemas import (
    CheckpointPage,
    CheckpointRead,
    ConsistencyProofRead,
    EntryPage,
    EntryRead,
    InclusionProofRead,
)
from charter.audit.sink import AuditSink, Executor
from charter.audit.store import EntryFilter, StoredCheckpoint, TreeReader
from charter.audit.witnessing import Witnessing, parse_targets
from charter.core.errors import ErrorCode, InvalidInput, NotFound, Unavailable
from charter.core.signing import SigningKey
from charter.settings import Settings
from charter.storage.uow import UnitOfWork, UnitOfWorkFactory

MAX_PAGE = 1000
_MAX_SIZE = 2**63 - 1  # sizes and sequence numbers are 64-bit integers in both databases


def entry_read(seq: int, body: bytes, leaf: bytes) -> EntryRead:
    doc = orjson.loads(body)
    return EntryRead(
        seq=seq,
        ts=doc.get("ts", ""),
        actor=doc.get("actor", ""),
        action=doc.get("action", ""),
        resource=doc.get("resource", ""),
        outcome=doc.get("outcome", ""),
        details=doc.get("details", {}),
        digests=doc.get("digests"),
        leaf_hash=b64(leaf),
        body=body.decode(),
    )


def utc(value: datetime | None) -> datetime | None:
    """Naive datetimes from query strings are UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, AuditLog] = weakref.WeakKeyDictionary()


class AuditLog:
    """Reads, proves and exports the log; owns the checkpointer of this process."""

    def __init__(self, uow: UnitOfWorkFactory, checkpointer: Checkpointer) -> None:
        self.uow = uow
        self.checkpointer = checkpointer

    @classmethod
    def build(cls, settings: Settings, uow: UnitOfWorkFactory, key: SigningKey, sink: AuditSink) -> AuditLog:
        """The log for a container: origin from the data dir (or host name), checkpoints after governance changes."""
        origin = resolve_origin(settings.home, settings.host, settings.public_url)
        checkpointer = Checkpointer(uow, key, origin, interval_s=settings.checkpoint_interval_s)
        checkpointer.attach(sink)
        if settings.witnesses:
            checkpointer.witnessing = Witnessing(parse_targets(settings.witnesses), settings.witness_quorum)
        log = cls(uow, checkpointer)
        _BY_ENGINE[uow.engine] = log
        return log

    # --- entries ---------------------------------------------------------------------------------------------
    def entries(
        self, f: EntryFilter, *, cursor: int | None = None, limit: int = 100, order: Literal["asc", "desc"] = "desc"
    ) -> EntryPage:
        """A page of entries matching `f`; pass `next` back as `cursor` for the following page."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        f = EntryFilter(f.actor, f.action, f.resource, utc(f.since), utc(f.until))
        with self.uow(write=False) as uow:
            rows = store.list_entries(uow.session, f, cursor=cursor, limit=limit, newest_first=order == "desc")
        items = [entry_read(*r) for r in rows]
        return EntryPage(items=items, next=items[-1].seq if len(items) == limit else None)

    def entry(self, seq: int) -> EntryRead:
        with self.uow(write=False) as uow:
            body, leaf = store.entry(uow.session, seq)
        return entry_read(seq, body, leaf)

    # --- checkpoints -----------------------------------------------------------------------------------------
    def _read(self, cp: StoredCheckpoint) -> CheckpointRead:
        return CheckpointRead(
            origin=cp.origin,
            size=cp.size,
            root=b64(cp.root),
            note=cp.note,
            created_at=cp.created_at,
            verifier_key=self.checkpointer.verifier_key_for(cp.origin),
        )

    def latest_checkpoint(self, *, fresh: bool = True) -> CheckpointRead:
        """The latest checkpoint; with `fresh`, sign the head first when it is ahead."""
        cp = self.checkpointer.latest(fresh=fresh)
        if cp is None:
            raise Unavailable("no audit checkpoint has been signed yet", code=ErrorCode.NO_CHECKPOINT)
        return self._read(cp)

    def checkpoints(self, *, after: int | None = None, limit: int = 100) -> CheckpointPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        if after is not None and not 0 <= after < _MAX_SIZE:
            raise InvalidInput(f"after must be between 0 and {_MAX_SIZE - 1}", field="after")
        with self.uow(write=False) as uow:
            rows = store.checkpoints(uow.session, first=0 if after is None else after + 1, limit=limit)
        items = [self._read(c) for c in rows]
        return CheckpointPage(items=items, next=items[-1].size if len(items) == limit else None)

    def verifier_key(self) -> str:
        return self.checkpointer.verifier_key()

    # --- proofs ----------------------------------------------------------------------------------------------
    def _signed_at_least(self, size: int) -> StoredCheckpoint:
        with self.uow(write=False) as uow:
            cp = store.checkpoint_covering(uow.session, size)
        if cp is None:
            cp = self.checkpointer.checkpoint()
        if cp is None or cp.size < size:
            raise Unavailable("no checkpoint covers that entry yet; retry in a second", code=ErrorCode.NO_CHECKPOINT)
        return cp

    def _exists(self, seq: int) -> None:
        with self.uow(write=False) as uow:
            head = store.head(uow.session)
        if not 0 <= seq < head.size:
            raise NotFound(f"entry {seq} is not in the log (it has {head.size})", code=ErrorCode.AUDIT_ENTRY_NOT_FOUND)

    def inclusion(self, seq: int, size: int | None = None) -> InclusionProofRead:
        """Proof that entry `seq` is in the tree of `size` entries (default: the latest checkpoint)."""
        note = None
        if size is None:
            cp = self.checkpointer.latest(fresh=False)
            if cp is None or cp.size <= seq:
                self._exists(seq)  # no checkpoint will ever cover an entry that is not in the log
                cp = self._signed_at_least(seq + 1)
            size, note = cp.size, cp.note
        with self.uow(write=False) as uow:
            s = uow.session
            head = store.head(s)
            if not 0 <= seq < size <= head.size:
                raise NotFound(
                    f"entry {seq} is not in a tree of {size} entries (the log has {head.size})",
                    code=ErrorCode.AUDIT_ENTRY_NOT_FOUND,
                )
            body, leaf = store.entry(s, seq)
            reader = TreeReader(s, size)
            proof = inclusion_proof_(seq, size, reader.range_hash)
            root = reader.range_hash(0, size)
            if note is None:
                at = store.checkpoint_at(s, size)
                note = at.note if at is not None else None
        return InclusionProofRead(
            seq=seq,
            size=size,
            leaf_hash=b64(leaf),
            root=b64(root),
            proof=[b64(p) for p in proof],
            checkpoint=note,
            entry=entry_read(seq, body, leaf),
        )

    def consistency(self, first: int, second: int | None = None) -> ConsistencyProofRead:
        """Proof that the tree of `first` entries is a prefix of the tree of `second` (default: latest checkpoint)."""
        note = None
        if second is None:
            cp = self.checkpointer.latest(fresh=True)
            if cp is None:
                raise Unavailable("no audit checkpoint has been signed yet", code=ErrorCode.NO_CHECKPOINT)
            second, note = cp.size, cp.note
        with self.uow(write=False) as uow:
            s = uow.session
            head = store.head(s)
            if not 0 <= first <= second <= head.size:
                raise InvalidInput(
                    f"need 0 <= first <= second <= {head.size} (the log size); got {first} and {second}",
                    code=ErrorCode.BAD_TREE_SIZES,
                )
            reader = TreeReader(s, second)
            proof = consistency_proof(first, second, reader.range_hash)
            first_root = reader.range_hash(0, first) if first else EMPTY_ROOT
            second_root = reader.range_hash(0, second) if second else EMPTY_ROOT
            if note is None:
                at = store.checkpoint_at(s, second)
                note = at.note if at is not None else None
        return ConsistencyProofRead(
            first=first,
            second=second,
            first_root=b64(first_root),
            second_root=b64(second_root),
            proof=[b64(p) for p in proof],
            checkpoint=note,
        )

    # --- export ----------------------------------------------------------------------------------------------
    def export(
        self, *, since: datetime | None = None, until: datetime | None = None, fmt: Literal["jsonl", "csv"] = "jsonl"
    ) -> Iterator[bytes]:
        """The export file for entries in [since, until), streamed; JSONL exports verify offline on their own."""
        f = EntryFilter(since=utc(since), until=utc(until))
        if fmt == "jsonl":
            self.checkpointer.checkpoint()  # so the anchor covers everything exported
        with self.uow(write=False) as uow:
            s = uow.session
            span = store.seq_range(s, f) or (0, 0)
            if fmt == "csv":
                yield from csv_lines(s, *span)
                return
            plan = plan_export(s, *span)
            origin = plan.anchor.origin if plan.anchor is not None else self.checkpointer.origin()
            keys = keyset.recorded(s)
            yield from jsonl_lines(s, plan, origin, self.checkpointer.verifier_key_for(origin), keys)


# --- for the dashboard, which holds a unit of work rather than the container ------------------------------------
def _log_for(uow: UnitOfWork) -> AuditLog | None:
    bind = uow.session.get_bind()
    return _BY_ENGINE.get(bind.engine if isinstance(bind, Connection) else bind)


def latest_checkpoint(uow: UnitOfWork) -> dict[str, Any] | None:
    """The latest checkpoint and whether its signature verifies with this install's audit key (None: none yet)."""
    cp = store.latest_checkpoint(uow.session)
    log = _log_for(uow)
    if cp is None:
        return None
    verified = False
    if log is not None:
        try:
            verified = verify_checkpoint(cp.note, log.checkpointer.verifier_key_for(cp.origin)).root == cp.root
        except NoteError:
            verified = False
    return {
        "size": cp.size,
        "root": b64(cp.root),
        "origin": cp.origin,
        "note": cp.note,
        "created_at": cp.created_at,
        "verified": verified,
        "witnesses": witness_status(log.checkpointer.witnessing if log is not None else None, cp.size),
    }


def witness_status(witnessing: Witnessing | None, size: int) -> dict[str, Any] | None:
    """What this process's witnesses said about the checkpoint of `size` (None: no witnesses configured): who
    cosigned, who refused and why, whether a quorum did, and the newest checkpoint a quorum cosigned."""
    if witnessing is None:
        return None
    latest = witnessing.latest if witnessing.latest is not None and witnessing.latest.size == size else None
    witnessed = witnessing.witnessed
    return {
        "names": [t.name for t in witnessing.targets],
        "quorum": witnessing.quorum,
        "submitted": latest is not None,
        "cosigned_by": list(latest.cosigned_by) if latest is not None else [],
        "refused": dict(latest.refused) if latest is not None else {},
        "witnessed": witnessed is not None and witnessed.size == size,
        "witnessed_size": witnessed.size if witnessed is not None else None,
    }


def inclusion_proof(uow: UnitOfWork, seq: int) -> dict[str, Any] | None:
    """Inclusion proof of entry `seq` in the latest checkpoint, checked here (None: no checkpoint covers it yet)."""
    s = uow.session
    cp = store.latest_checkpoint(s)
    if cp is None or not 0 <= seq < cp.size:
        return None
    _, leaf = store.entry(s, seq)
    proof = inclusion_proof_hashes(s, seq, cp.size)
    return {
        "tree_size": cp.size,
        "root": b64(cp.root),
        "hashes": [b64(h) for h in proof],
        "verified": verify_inclusion(seq, cp.size, leaf, proof, cp.root),
    }


def inclusion_proof_hashes(s: Executor, seq: int, size: int) -> list[bytes]:
    return inclusion_proof_(seq, size, TreeReader(s, size).range_hash)
