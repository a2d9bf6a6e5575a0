"""RFC 6962 hashing, the compact tree state kept in the head row, and whole-tree level arrays for verification."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_sha256 = hashlib.sha256

EMPTY_ROOT = _sha256(b"").digest()
# Perfect subtrees at these heights are stored as they complete ("tiles"), so proofs never read more than
# 255 hashes of one level.
STORED_LEVELS = (8, 16, 24, 32)


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962 §2.1: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def decompose(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees (start, height) that make up a tree of `size` leaves, largest first."""
    out = []
    start = 0
    for height in range(size.bit_length() - 1, -1, -1):
        if size >> height & 1:
            out.append((start, height))
            start += 1 << height
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """Root of a tree from the roots of its perfect subtrees, largest (leftmost) first."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def reduce_level(hashes: Sequence[bytes]) -> list[bytes]:
    """One level up: pair neighbours; an odd last node is carried up unchanged (RFC 6962 shape)."""
    prefix = b"\x01"
    out = [_sha256(prefix + a + b).digest() for a, b in zip(hashes[0::2], hashes[1::2], strict=False)]
    if len(hashes) & 1:
        out.append(hashes[-1])
    return out


def mth(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash of a sequence of leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        level = reduce_level(level)
    return level[0]


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree given its 2^k nodes of one level."""
    level = list(hashes)
    while len(level) > 1:
        level = reduce_level(level)
    return level[0]


class CompactTree:
    """The roots of the perfect subtrees that make up a tree of `size` leaves (largest first)."""

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        self.size = size
        self.hashes = list(hashes or [])
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError("compact tree state does not match its size")

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging equal-sized subtrees."""
        self.extend([leaf])

    def extend(self, leaves: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes in order; return the completed stored-level nodes as (height, index, hash)."""
        hashes = self.hashes
        size = self.size
        done: list[tuple[int, int, bytes]] = []
        prefix = b"\x01"
        for leaf in leaves:
            h = leaf
            s = size
            height = 0
            while s & 1:
                h = _sha256(prefix + hashes.pop() + h).digest()
                s >>= 1
                height += 1
                if height & 7 == 0:
                    done.append((height, ((size + 1) >> height) - 1, h))
            hashes.append(h)
            size += 1
        self.size = size
        return done

    def root(self) -> bytes:
        """Merkle tree hash of the whole tree."""
        return fold(self.hashes)

    def copy(self) -> CompactTree:
        return CompactTree(self.size, list(self.hashes))


class Levels:
    """Every level of a tree built at once from its leaf hashes: roots of any prefix in O(log n)."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.size = len(leaves)
        # levels[h][i] is the root of the perfect subtree of height h starting at leaf i << h (complete nodes only).
        self.levels: list[list[bytes]] = [leaves]
        level = leaves
        prefix = b"\x01"
        while len(level) > 1:
            level = [_sha256(prefix + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
            self.levels.append(level)

    def node(self, start: int, height: int) -> bytes:
        return self.levels[height][start >> height]

    def compact(self, size: int) -> list[bytes]:
        """The compact state (perfect subtree roots) of the first `size` leaves."""
        if size > self.size:
            raise ValueError(f"tree has {self.size} leaves, not {size}")
        return [self.node(start, height) for start, height in decompose(size)]

    def root(self, size: int) -> bytes:
        """Merkle tree hash of the first `size` leaves."""
        return fold(self.compact(size))
