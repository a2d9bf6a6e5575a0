"""1,000 random rewrites of a stored audit log, every one caught by verification, which names the first bad entry.

The attacker has write access to the database (a DBA, a stolen backup restored with edits). Mutations: edit a body
(with or without fixing its leaf hash), delete, insert a forged entry, reorder two entries, truncate the tail, and
fork (rewrite history from some entry and recompute every derived value: leaf hashes, nodes, head — and delete
the stored checkpoints, leaving only those an auditor saved elsewhere). The library verifier does the bulk; a few go
through `charter audit verify` on a real data dir.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from charter.audit.canonical import canonical
from charter.audit.export import verify_database
from charter.audit.merkle import EMPTY_ROOT, CompactTree
from charter.audit.verify import Report
from charter.bootstrap import Container
from charter.core.events import AuditEvent
from charter.storage.engine import make_engine
from tests.support.db import env_for
from tests.support.server import cli
from tests.unit.audit.memlog import MemLog, body_with

N = 240
CHECKPOINTS = (17, 64, 150, 200)
MUTATIONS = 1000
KINDS = ("edit", "edit_fixing_leaf", "delete", "insert", "reorder", "truncate", "fork")


class Copy:
    """A copy of the template log's database file, mutated in one raw transaction (the attacker's SQL session)."""

    def __init__(self, template: MemLog, path: Path) -> None:
        shutil.copyfile(template.dir / "audit.db", path)
        self.path = path
        self.key = template.key
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("BEGIN")

    def body(self, seq: int) -> bytes:
        return bytes(self.db.execute("SELECT body FROM audit_entries WHERE seq = ?", (seq,)).fetchone()[0])

    def bodies(self) -> list[bytes]:
        return [bytes(b) for (b,) in self.db.execute("SELECT body FROM audit_entries ORDER BY seq")]

    def put(self, seq: int, body: bytes) -> None:
        self.db.execute(
            "INSERT INTO audit_entries (seq, ts, actor, action, resource, outcome, body, leaf_hash) "
            "VALUES (?, '2025-01-01 00:00:00.000000', 'a', 'b', 'c', 'success', ?, ?)",
            (seq, body, leaf(body)),
        )

    def edit(self, i: int, *, fix_leaf: bool) -> None:
        body = self.body(i)
        new = body_with(body, outcome="denied" if b'"outcome":"success"' in body else "success")
        if fix_leaf:
            self.db.execute("UPDATE audit_entries SET body = ?, leaf_hash = ? WHERE seq = ?", (new, leaf(new), i))
        else:
            self.db.execute("UPDATE audit_entries SET body = ? WHERE seq = ?", (new, i))

    def swap(self, i: int, j: int) -> None:
        a, b = self.body(i), self.body(j)
        self.db.execute("UPDATE audit_entries SET body = ?, leaf_hash = ? WHERE seq = ?", (b, leaf(b), i))
        self.db.execute("UPDATE audit_entries SET body = ?, leaf_hash = ? WHERE seq = ?", (a, leaf(a), j))

    def truncate(self, k: int) -> None:
        self.db.execute("DELETE FROM audit_entries WHERE seq >= ?", (k,))

    def insert(self, i: int) -> None:
        """Make room at i (renumbering what follows) and put a forged approval there."""
        tail = self.bodies()[i:]
        self.truncate(i)
        forged = canonical(
            {"v": 1, "seq": i, "ts": "2025-01-01T00:00:00Z", "actor": "user:mallory", "action": "license.approve",
             "resource": "license:x", "outcome": "success", "details": {}}
        )  # fmt: skip
        for seq, body in enumerate([forged, *tail], i):
            self.put(seq, body)

    def rebuild(self) -> None:
        """The thorough attacker: renumber bodies, recompute leaf hashes, stored nodes and the head."""
        rows = self.bodies()
        self.db.execute("DELETE FROM audit_entries")
        self.db.execute("DELETE FROM audit_nodes")
        tree = CompactTree()
        for pos, body in enumerate(rows):
            body = body_with(body, seq=pos)
            self.put(pos, body)
            self.db.executemany(
                "INSERT INTO audit_nodes (height, idx, hash) VALUES (?, ?, ?)", tree.extend([leaf(body)])
            )
        compact = orjson.dumps([h.hex() for h in tree.hashes]).decode()
        root = tree.root() if tree.size else EMPTY_ROOT
        self.db.execute(
            "UPDATE audit_head SET size = ?, compact = ?, root = ? WHERE id = 1", (tree.size, compact, root)
        )

    def verify(self, trusted: tuple[str, ...] = ()) -> Report:
        self.db.execute("COMMIT")
        self.db.close()
        engine = make_engine(f"sqlite:///{self.path}")
        try:
            return verify_database(engine, public_raw=self.key.public_raw, trusted=trusted)
        finally:
            engine.dispose()


def leaf(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def build_template(
    size: int = N, checkpoints: tuple[int, ...] = CHECKPOINTS, batch: int = 7
) -> tuple[MemLog, list[str]]:
    """The log every mutation starts from, and the checkpoint notes an auditor saved along the way."""
    log = MemLog()
    notes: list[str] = []
    for at in checkpoints:
        log.append(at - log.size, batch=batch)
        assert log.checkpoint() == at
        (note,) = log.sql("SELECT note FROM audit_checkpoints WHERE size = :s", s=at)[0]
        notes.append(str(note))
    log.append(size - log.size, batch=batch)
    with log.engine.begin() as conn:  # one self-contained file to copy
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert log.verify(deep=True).ok
    return log, notes


@pytest.fixture(scope="module")
def template() -> Iterator[tuple[MemLog, list[str]]]:
    log, notes = build_template()
    yield log, notes
    log.close()


def mutate(log: Copy, kind: str, rng: random.Random) -> tuple[int | None, Callable[[Report], bool]]:
    """Apply one mutation; return the entry it touched first and how the report must locate it."""
    latest = CHECKPOINTS[-1]
    if kind == "edit":
        i = rng.randrange(N)
        log.edit(i, fix_leaf=False)
        return i, lambda r: _at(r, i)
    if kind == "edit_fixing_leaf":
        i = rng.randrange(N)
        log.edit(i, fix_leaf=True)
        return i, lambda r: (first := _first(r)) is None or first <= i  # located by the tree, in a range from <= i
    if kind == "delete":
        i = rng.randrange(N)
        log.db.execute("DELETE FROM audit_entries WHERE seq = ?", (i,))
        return i, lambda r: _at(r, i)
    if kind == "insert":
        i = rng.randrange(N)
        log.insert(i)
        return i, lambda r: _at(r, i)
    if kind == "reorder":
        i, j = sorted(rng.sample(range(N), 2))
        log.swap(i, j)
        return i, lambda r: _at(r, i)
    if kind == "truncate":
        k = rng.randrange(N)
        log.truncate(k)
        return k, lambda r: _at(r, k)
    # fork: history rewritten from i below the latest checkpoint, everything derived recomputed, checkpoints gone
    i = rng.randrange(latest)
    how = rng.choice(("edit", "delete", "insert", "reorder"))
    if how == "edit":
        log.edit(i, fix_leaf=True)
    elif how == "delete":
        log.db.execute("DELETE FROM audit_entries WHERE seq = ?", (i,))
    elif how == "insert":
        log.insert(i)
    else:
        log.swap(i, rng.randrange(i + 1, N))
    log.rebuild()
    log.db.execute("DELETE FROM audit_checkpoints")
    return i, lambda r: (first := _first(r)) is None or first <= max(c for c in CHECKPOINTS if c > i)


def _first(report: Report) -> int | None:
    bad = report.first_bad
    return bad.seq if bad is not None else None


def _at(report: Report, i: int) -> bool:
    """The first problem names entry i, or (where only the tree's hashes locate it) a range that contains i."""
    bad = report.first_bad
    return bad is not None and (
        bad.seq == i or (bad.seq is not None and bad.end is not None and bad.seq <= i < bad.end)
    )


@dataclass
class Campaign:
    counts: Counter[str] = field(default_factory=Counter)
    missed: list[tuple[str, int | None]] = field(default_factory=list)
    mislocated: list[tuple[str, int | None, list[dict[str, Any]]]] = field(default_factory=list)


def campaign(log: MemLog, notes: list[str], mutations: int, seed: int, scratch: Path) -> Campaign:
    """Mutate a fresh copy of the template `mutations` times (kinds in turn) and verify each copy."""
    rng = random.Random(seed)
    shm = Path("/dev/shm")
    work = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else scratch))
    out = Campaign()
    try:
        for n in range(mutations):
            kind = KINDS[n % len(KINDS)]
            copy = Copy(log, work / "copy.db")
            where, located = mutate(copy, kind, rng)
            # forks: the auditor verifies against the checkpoints it saved (the stored ones were deleted)
            report = copy.verify(trusted=tuple(notes) if kind == "fork" else ())
            out.counts[kind] += 1
            if report.ok:
                out.missed.append((kind, where))
            elif not located(report):
                out.mislocated.append((kind, where, [p.to_dict() for p in report.problems[:3]]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def test_a_thousand_random_rewrites_are_all_detected(template: tuple[MemLog, list[str]], tmp_path: Path) -> None:
    log, notes = template
    result = campaign(log, notes, MUTATIONS, 6962, tmp_path)
    assert sum(result.counts.values()) == MUTATIONS and set(result.counts) == set(KINDS)
    assert not result.missed, f"{len(result.missed)} rewrites went unnoticed: {result.missed[:5]}"
    bad = result.mislocated
    assert not bad, f"{len(bad)} rewrites were not located at their first bad entry: {bad[:3]}"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_charter_audit_verify_names_the_first_bad_entry(container: Container) -> None:
    with container.uow() as uow:
        for k in range(30):
            uow.record(AuditEvent("user:alice", "team.create", f"team:t{k}", details={"k": k}))
        uow.commit()
    log = container.audit_log
    log.checkpointer.checkpoint()
    env = env_for(container.settings)
    ok = cli(env, "audit", "verify", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    size = json.loads(ok.stdout)["size"]
    target = size - 7
    with container.engine.begin() as conn:
        body = bytes(conn.execute(text("SELECT body FROM audit_entries WHERE seq = :s"), {"s": target}).scalar_one())
        forged = body.replace(b'"user:alice"', b'"user:bobby"')
        assert forged != body
        conn.execute(text("UPDATE audit_entries SET body = :b WHERE seq = :s"), {"b": forged, "s": target})
    bad = cli(env, "audit", "verify", "--json")
    assert bad.returncode != 0
    doc = json.loads(bad.stdout or bad.stderr)
    assert doc["ok"] is False and doc["first_bad"]["seq"] == target, doc
    with container.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": target - 3})
    cut = json.loads(cli(env, "audit", "verify", "--json").stdout or "{}")
    assert cut.get("first_bad", {}).get("seq") == target - 3, cut
