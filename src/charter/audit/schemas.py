"""API/CLI-facing shapes of entries, checkpoints and proofs (hashes in standard base64, as in checkpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class EntryRead(BaseModel):
    """One entry as stored; `body` is the exact canonical JSON that is hashed (leaf = SHA-256(0x00 || body))."""

    seq: int
    ts: str
    actor: str
    action: str
    resource: str
    outcome: str
    details: dict[str, Any]
    digests: dict[str, str] | None = None
    leaf_hash: str
    body: str


class EntryPage(BaseModel):
    items: list[EntryRead]
    next: int | None = None


class CheckpointRead(BaseModel):
    """A signed checkpoint: `note` is the C2SP signed note, verifiable with `verifier_key`."""

    origin: str
    size: int
    root: str
    note: str
    created_at: datetime
    verifier_key: str


class CheckpointPage(BaseModel):
    items: list[CheckpointRead]
    next: int | None = None


class InclusionProofRead(BaseModel):
    """RFC 9162 inclusion proof of entry `seq` in the tree of `size` entries with root `root`."""

    seq: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str]
    checkpoint: str | None = None
    entry: EntryRead


class ConsistencyProofRead(BaseModel):
    """RFC 9162 consistency proof that the tree of `first` entries is a prefix of the tree of `second`."""

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
    checkpoint: str | None = None
