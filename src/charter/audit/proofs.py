"""Inclusion and consistency proofs: generation (RFC 9162 §2.1.3.1, §2.1.4.1) and verification (§2.1.3.2, §2.1.4.2).

Generation takes `range_hash(start, end)`, the Merkle tree hash of leaves [start, end); every range it asks for is
either a perfect aligned subtree or the right edge of one, so a store can answer from stored nodes and leaf hashes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from charter.audit.merkle import largest_power_of_two_below

RangeHash = Callable[[int, int], bytes]


def inclusion_proof(index: int, size: int, range_hash: RangeHash) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `size` leaves, bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index - lo < k:
            path.append(range_hash(lo + k, hi))
            hi = lo + k
        else:
            path.append(range_hash(lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, range_hash: RangeHash) -> list[bytes]:
    """The proof that the tree of `first` leaves is a prefix of the tree of `second` leaves, bottom-up."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    out: list[bytes] = []
    lo, hi, complete = 0, second, True
    while True:
        if first == hi:
            if not complete:
                out.append(range_hash(lo, hi))
            break
        k = largest_power_of_two_below(hi - lo)
        if first - lo <= k:
            out.append(range_hash(lo + k, hi))
            hi = lo + k
        else:
            out.append(range_hash(lo, lo + k))
            lo += k
            complete = False
    out.reverse()
    return out


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof implies, or None when the proof has the wrong shape."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """True when `proof` shows leaf hash `leaf` at `index` in the tree of `size` leaves with `root`."""
    got = root_from_inclusion(index, size, leaf, proof)
    return got is not None and hmac.compare_digest(got, root)


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """True when `proof` shows the tree (`first`, `first_root`) is a prefix of (`second`, `second_root`)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and hmac.compare_digest(first_root, second_root)
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)
