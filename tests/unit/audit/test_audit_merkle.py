"""Merkle tree hashes and RFC 9162 proofs against a naive recursive RFC 6962 MTH, exhaustively for small trees."""

from __future__ import annotations

import hashlib

import pytest

from charter.audit.merkle import EMPTY_ROOT, CompactTree, Levels, decompose, fold, leaf_hash, mth, node_hash
from charter.audit.proofs import (
    consistency_proof,
    inclusion_proof,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)


def naive_mth(data: list[bytes]) -> bytes:
    """RFC 6962 §2.1, literally."""
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < len(data):
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(data[:k]) + naive_mth(data[k:])).digest()


DATA = [f"entry {i}".encode() for i in range(40)]
LEAVES = [leaf_hash(d) for d in DATA]


def ranges(a: int, b: int) -> bytes:
    return naive_mth(DATA[a:b])


def test_hash_prefixes_follow_rfc6962() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == mth([])


@pytest.mark.parametrize("n", range(len(DATA) + 1))
def test_every_tree_shape_has_the_naive_root(n: int) -> None:
    want = naive_mth(DATA[:n])
    assert mth(LEAVES[:n]) == want
    tree = CompactTree()
    tree.extend(LEAVES[:n])
    assert tree.root() == want and tree.size == n
    assert Levels(LEAVES).root(n) == want
    assert fold(Levels(LEAVES).compact(n)) == want
    assert [1 << h for _, h in decompose(n)] == [1 << h for h in range(n.bit_length()) if n >> h & 1][::-1]


def test_compact_tree_reports_stored_level_nodes() -> None:
    data = [str(i).encode() for i in range(700)]
    leaves = [leaf_hash(d) for d in data]
    tree = CompactTree()
    nodes = tree.extend(leaves[:300]) + tree.extend(leaves[300:])
    assert [(h, i) for h, i, _ in nodes] == [(8, 0), (8, 1)]
    assert nodes[1][2] == naive_mth(data[256:512])
    with pytest.raises(ValueError):
        CompactTree(3, [b"x" * 32])


@pytest.mark.parametrize("n", range(1, len(DATA) + 1))
def test_inclusion_proofs_for_every_index(n: int) -> None:
    root = naive_mth(DATA[:n])
    for i in range(n):
        proof = inclusion_proof(i, n, ranges)
        assert verify_inclusion(i, n, LEAVES[i], proof, root), (i, n)
        assert root_from_inclusion(i, n, LEAVES[i], proof) == root
        assert not verify_inclusion(i, n, leaf_hash(b"forged"), proof, root)
        if proof:
            bad = [*proof[:-1], bytes(32)]
            assert not verify_inclusion(i, n, LEAVES[i], bad, root)
            assert not verify_inclusion(i, n, LEAVES[i], proof[:-1], root)
    with pytest.raises(ValueError):
        inclusion_proof(n, n, ranges)


@pytest.mark.parametrize("n", range(1, len(DATA) + 1))
def test_consistency_proofs_for_every_pair(n: int) -> None:
    new_root = naive_mth(DATA[:n])
    for m in range(0, n + 1):
        old_root = naive_mth(DATA[:m])
        proof = consistency_proof(m, n, ranges)
        assert verify_consistency(m, n, old_root, new_root, proof), (m, n)
        if 0 < m < n:
            assert not verify_consistency(m, n, leaf_hash(b"x"), new_root, proof)
            assert not verify_consistency(m, n, old_root, leaf_hash(b"x"), proof)
            assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
            assert not verify_consistency(m, n, old_root, new_root, [*proof, bytes(32)])
    assert not verify_consistency(n, n - 1, new_root, new_root, [])
