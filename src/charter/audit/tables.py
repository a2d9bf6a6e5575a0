"""Audit tables: append-only entries, the single head row, stored tree nodes, signed checkpoints, the key set."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.storage.base import Base, JSONType, UTCDateTime


class AuditEntryRow(Base):
    """One entry: `body` is the canonical JSON that is hashed; the other columns are copies for filtering."""

    __tablename__ = "audit_entries"

    # On SQLite `INTEGER PRIMARY KEY` makes seq the rowid: no separate key index, scans in seq order are table scans.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(140), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    resource: Mapped[str] = mapped_column(String(200), index=True)
    outcome: Mapped[str] = mapped_column(String(12))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHeadRow(Base):
    """The tree's compact state (hex roots of its perfect subtrees); created by the migration, locked per append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    compact: Mapped[list[Any]] = mapped_column(JSONType)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditNodeRow(Base):
    """Root of the perfect subtree of `height` (8, 16, …) covering leaves [idx << height, (idx + 1) << height)."""

    __tablename__ = "audit_nodes"
    __table_args__ = {"sqlite_with_rowid": False}  # clustered on (height, idx): one B-tree, not two

    height: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) and the compact state it was signed from."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    compact: Mapped[list[Any]] = mapped_column(JSONType)
    origin: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class KeyFingerprintRow(Base):
    """The key set the log was started with (recorded at first `charter init`): one row per key, never changed.

    `license` and `audit` are RFC 7638 JWK thumbprints of the Ed25519 keys; `hmac` is the audit HMAC key's id.
    """

    __tablename__ = "key_fingerprints"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


ENTRIES = cast(Table, AuditEntryRow.__table__)
HEAD = cast(Table, AuditHeadRow.__table__)
NODES = cast(Table, AuditNodeRow.__table__)
CHECKPOINTS = cast(Table, AuditCheckpointRow.__table__)
KEY_FINGERPRINTS = cast(Table, KeyFingerprintRow.__table__)
