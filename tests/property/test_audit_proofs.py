"""Proofs served from the database (stored nodes + leaf hashes) verify for every index and size, and match a naive
recursive RFC 6962 Merkle tree hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.audit.proofs import consistency_proof, inclusion_proof, verify_consistency, verify_inclusion
from charter.audit.store import TreeReader
from tests.unit.audit.memlog import MemLog

N = 1100


def naive_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


@pytest.fixture(scope="module")
def log() -> Iterator[tuple[MemLog, list[bytes]]]:
    with MemLog() as m:
        for batch in (1, 7, 300, 1, 64, 500):
            m.append(min(batch, N - m.size), batch)
        m.append(N - m.size, 250)
        leaves = [hashlib.sha256(b"\x00" + body).digest() for _, body in m.rows()]
        assert m.sql("SELECT count(*) FROM audit_nodes")[0][0] == N // 256
        yield m, leaves


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_inclusion_from_the_database(log: tuple[MemLog, list[bytes]], data: st.DataObject) -> None:
    m, leaves = log
    size = data.draw(st.integers(1, N), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    with m.engine.connect() as conn:
        reader = TreeReader(conn, size)
        proof = inclusion_proof(index, size, reader.range_hash)
        root = reader.range_hash(0, size)
    assert root == naive_mth(leaves[:size])
    assert verify_inclusion(index, size, leaves[index], proof, root)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_consistency_from_the_database(log: tuple[MemLog, list[bytes]], data: st.DataObject) -> None:
    m, leaves = log
    second = data.draw(st.integers(1, N), label="second")
    first = data.draw(st.integers(0, second), label="first")
    with m.engine.connect() as conn:
        proof = consistency_proof(first, second, TreeReader(conn, second).range_hash)
    assert verify_consistency(first, second, naive_mth(leaves[:first]), naive_mth(leaves[:second]), proof)


def test_missing_stored_nodes_fall_back_to_leaf_hashes(log: tuple[MemLog, list[bytes]]) -> None:
    m, leaves = log
    with m.engine.connect() as conn:
        conn.exec_driver_sql("DELETE FROM audit_nodes WHERE idx = 1")
        assert TreeReader(conn, N).range_hash(0, N) == naive_mth(leaves)
        conn.rollback()
