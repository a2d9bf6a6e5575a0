"""RFC 6962 hashing and the compact tree state kept in the head row."""

from __future__ import annotations

import hashlib


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


class CompactTree:
    """The roots of the perfect subtrees that make up a tree of `size` leaves (largest first)."""

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        self.size = size
        self.hashes = list(hashes or [])
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError("compact tree state does not match its size")

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging equal-sized subtrees."""
        self.hashes.append(leaf)
        size = self.size
        while size & 1:
            right = self.hashes.pop()
            left = self.hashes.pop()
            self.hashes.append(node_hash(left, right))
            size >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            acc = node_hash(h, acc)
        return acc
