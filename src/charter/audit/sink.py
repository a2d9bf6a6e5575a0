"""The AuditSink every domain writes through: one entry, in the caller's transaction, extending the tree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.audit.merkle import CompactTree, leaf_hash
from charter.audit.tables import AuditEntryRow, AuditHeadRow
from charter.core.canonical import canonical_json
from charter.core.clock import isoformat, utcnow
from charter.core.events import AuditEvent
from charter.core.hashing import hmac_sha256_hex

ENTRY_SCHEMA = 1


class AuditSink:
    """Appends canonical entries and extends the Merkle head row in the same transaction."""

    def __init__(self, hmac_key: bytes) -> None:
        self._hmac_key = hmac_key

    def entry_document(self, seq: int, event: AuditEvent, ts: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "v": ENTRY_SCHEMA,
            "seq": seq,
            "ts": ts,
            "actor": event.actor,
            "action": event.action,
            "resource": event.resource,
            "outcome": event.outcome,
            "details": dict(event.details),
        }
        if event.sensitive:
            doc["digests"] = {
                k: "hmac-sha256:" + hmac_sha256_hex(self._hmac_key, v if isinstance(v, bytes) else v.encode())
                for k, v in event.sensitive.items()
            }
        return doc

    def append(self, session: Session, event: AuditEvent) -> int:
        return self.append_many(session, [event])[-1]

    def append_many(self, session: Session, events: list[AuditEvent]) -> list[int]:
        """Append events in order; the head row lock serializes writers across processes."""
        head = session.scalar(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update())
        now = utcnow()
        if head is None:
            head = AuditHeadRow(id=1, size=0, compact=[], root=b"", updated_at=now)
            session.add(head)
        tree = CompactTree(head.size, [bytes.fromhex(h) for h in head.compact])
        ts = isoformat(now)
        seqs = []
        rows = []
        for event in events:
            seq = tree.size
            body = canonical_json(self.entry_document(seq, event, ts))
            leaf = leaf_hash(body)
            tree.append(leaf)
            rows.append(
                AuditEntryRow(
                    seq=seq,
                    ts=now,
                    actor=event.actor[:140],
                    action=event.action[:80],
                    resource=event.resource[:200],
                    outcome=event.outcome,
                    body=body,
                    leaf_hash=leaf,
                )
            )
            seqs.append(seq)
        session.add_all(rows)
        head.size = tree.size
        head.compact = [h.hex() for h in tree.hashes]
        head.root = tree.root()
        head.updated_at = now
        session.flush()
        return seqs

    def after_commit(self, event: AuditEvent) -> None:
        """Hook for checkpointing after governance changes (wired by the checkpointer)."""
        del event
