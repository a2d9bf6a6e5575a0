"""Checkpoints: signed after governance changes, consistent with their predecessor, refused otherwise."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from charter.audit.checkpointer import DEFAULT_ORIGIN, Checkpointer, ConsistencyRefused, resolve_origin
from charter.audit.export import verify_database
from charter.audit.note import verify_checkpoint
from charter.audit.service import AuditLog
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import TeamCreate
from charter.bootstrap import Container
from charter.core.events import AuditEvent


def log_of(c: Container) -> AuditLog:
    log = c.audit_log
    assert isinstance(log, AuditLog)
    return log


def checkpoint_sizes(c: Container) -> list[int]:
    with c.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT size FROM audit_checkpoints ORDER BY size"))]


def head_size(c: Container) -> int:
    with c.engine.connect() as conn:
        return int(conn.execute(text("SELECT size FROM audit_head")).scalar_one())


def test_governance_change_triggers_a_checkpoint(container: Container) -> None:
    cp = log_of(container).checkpointer
    cp.interval_s = 3600  # only the governance trigger can sign within this test
    cp.start()
    try:
        deadline = time.monotonic() + 10
        while checkpoint_sizes(container)[-1:] != [head_size(container)]:  # the start-up round signed the head
            assert time.monotonic() < deadline, "no start-up checkpoint"
            time.sleep(0.02)
        before = checkpoint_sizes(container)
        with container.uow() as uow:
            auth_service.add_team(uow, SYSTEM_ACTOR, TeamCreate(name="risk"))
        deadline = time.monotonic() + 5
        while checkpoint_sizes(container)[-1:] != [head_size(container)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpoint_sizes(container)[-1] == head_size(container) > (before[-1] if before else 0)
        # A non-governance entry does not wake the checkpointer.
        with container.uow() as uow:
            uow.record(AuditEvent("app:x", "inference.allow", "deployment:d", governance=False))
            uow.commit()
        time.sleep(0.5)
        assert checkpoint_sizes(container)[-1] == head_size(container) - 1
    finally:
        cp.stop()


def test_checkpoints_verify_and_chain(container: Container) -> None:
    log = log_of(container)
    first = log.checkpointer.checkpoint()
    assert first is not None
    with container.uow() as uow:
        for i in range(5):
            uow.record(AuditEvent("user:a", "team.create", f"team:t{i}"))
        uow.commit()
    second = log.checkpointer.checkpoint()
    assert second is not None and second.size == first.size + 5
    cp = verify_checkpoint(second.note, log.verifier_key())
    assert (cp.size, cp.root, cp.origin) == (second.size, second.root, DEFAULT_ORIGIN)
    assert log.checkpointer.checkpoint() == second  # nothing new: nothing signed
    proof = log.consistency(first.size, second.size)
    assert proof.checkpoint == second.note


@pytest.mark.parametrize("target", ["entry", "head"])
def test_an_inconsistent_tree_is_never_signed(
    container: Container, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    log = log_of(container)
    signed = log.checkpointer.checkpoint()
    assert signed is not None
    with container.uow() as uow:
        uow.record(AuditEvent("user:a", "team.create", "team:x"))
        uow.commit()
    with container.engine.begin() as conn:
        if target == "entry":  # an entry appended since the last checkpoint was rewritten
            conn.execute(text("UPDATE audit_entries SET body = :b WHERE seq = :s"), {"b": b"{}", "s": signed.size})
        else:  # the head no longer extends the signed tree
            conn.execute(text("UPDATE audit_head SET root = :r"), {"r": bytes(32)})
    before = checkpoint_sizes(container)
    with caplog.at_level(logging.CRITICAL, logger="charter.audit.checkpoint"):
        with pytest.raises(ConsistencyRefused):
            log.checkpointer.checkpoint()
    assert checkpoint_sizes(container) == before
    assert "REFUSING TO SIGN" in caplog.text and log.checkpointer.refused


def test_a_truncated_log_is_never_signed(container: Container) -> None:
    log = log_of(container)
    with container.uow() as uow:
        for i in range(3):
            uow.record(AuditEvent("user:a", "team.create", f"team:t{i}"))
        uow.commit()
    signed = log.checkpointer.checkpoint()
    assert signed is not None
    with container.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq >= :k"), {"k": signed.size - 2})
        conn.execute(text("UPDATE audit_head SET size = :k"), {"k": signed.size - 2})
    with pytest.raises(ConsistencyRefused, match="truncated"):
        log.checkpointer.checkpoint()


def test_concurrent_checkpointers_never_fork(container: Container) -> None:
    others = [Checkpointer(container.uow, container.keys.audit, DEFAULT_ORIGIN) for _ in range(3)]
    stop = threading.Event()

    def churn(cp: Checkpointer) -> None:
        while not stop.is_set():
            cp.checkpoint()

    threads = [threading.Thread(target=churn, args=(cp,)) for cp in others]
    for t in threads:
        t.start()
    for i in range(30):
        with container.uow() as uow:
            uow.record(AuditEvent("user:a", "team.create", f"team:c{i}"))
            uow.commit()
    stop.set()
    for t in threads:
        t.join()
    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw)
    assert report.ok, report.problems
    assert report.checkpoints == len(checkpoint_sizes(container)) >= 2


def test_origin_comes_from_the_data_dir_or_host(tmp_path: Path) -> None:
    assert resolve_origin(tmp_path, "127.0.0.1") == DEFAULT_ORIGIN
    assert resolve_origin(tmp_path, "localhost") == DEFAULT_ORIGIN
    assert resolve_origin(tmp_path, "charter.example.com") == "charter.example.com/audit"
    assert resolve_origin(tmp_path, "0.0.0.0", "https://gov.example.org/charter/") == "gov.example.org/charter/audit"
    (tmp_path / "audit-origin").write_text("audit.example.org/prod\n")
    assert resolve_origin(tmp_path, "charter.example.com") == "audit.example.org/prod"
    (tmp_path / "audit-origin").write_text("bad origin\n")
    assert resolve_origin(tmp_path, "") == DEFAULT_ORIGIN


@pytest.mark.parametrize("offset", [0, 1])  # a gap before the last new entry, or the last one itself
def test_an_entry_missing_below_the_head_is_never_signed(
    container: Container, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    log = log_of(container)
    signed = log.checkpointer.checkpoint()
    assert signed is not None
    for _ in range(2):
        with container.uow() as uow:
            uow.record(AuditEvent("user:a", "team.create", "team:x"))
            uow.commit()
    gone = signed.size + offset
    with container.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": gone})
    before = checkpoint_sizes(container)
    with caplog.at_level(logging.CRITICAL, logger="charter.audit.checkpoint"):
        with pytest.raises(ConsistencyRefused, match=rf"entry {gone} is missing below the head"):
            log.checkpointer.checkpoint()
    assert checkpoint_sizes(container) == before
