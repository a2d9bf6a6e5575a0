"""The database goes away under load; nothing is acknowledged without its audit entry and recovery is automatic.

SQLite: the disk under the data dir fills up (every write fails at once; `chmod` stops neither root nor an already
open file descriptor, a full disk stops both), or another process holds the write lock. PostgreSQL (the shared
server is never stopped): the gateway's own role loses its privileges on the license tables (license status cannot
be refreshed: high-risk systems fail closed at once, others are served within the grace window and their entries
are marked degraded, then 503), then its backends are terminated with `pg_terminate_backend` in a loop.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from charter.settings import Settings
from tests.reliability import stack
from tests.support.db import PG_SKIP, PG_URL, pg_schema, pg_sqlalchemy_url
from tests.support.gateway_fake import FakeUpstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TIERS = {"hi": "high", "lo": "minimal"}


@contextmanager
def small_disk(size_mb: int = 64) -> Iterator[Path | None]:
    """A tmpfs of its own (root only), so filling it up fails the data dir's writes and nothing else's."""
    where = Path(tempfile.mkdtemp(prefix="charter-disk-"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)], capture_output=True)
    if r.returncode != 0:  # not root: the lock part still runs, on an ordinary directory
        yield None
        where.rmdir()
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        shutil.rmtree(where, ignore_errors=True)


def fill(disk: Path, db: Path) -> Path:
    """Checkpoint the WAL to nothing, then take every free byte: the next frame append gets ENOSPC."""
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * block)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def _outcomes(settings: Settings, answers: list[stack.Answer]) -> dict[str, str]:
    stored = stack.decisions(settings)
    return {a.decision_id: stored[a.decision_id].outcome for a in answers if a.decision_id in stored}


def _serving_again(load: stack.Load, since: float, timeout: float = 30) -> float:
    """Seconds from `since` to the first 200 sent after it, on every deployment."""
    deadline = time.monotonic() + timeout
    while True:
        got = {a.deployment: a.sent for a in list(load.answers) if a.status == 200 and a.sent >= since}
        if len(got) == len(TIERS):
            return max(got.values()) - since
        assert time.monotonic() < deadline, f"not serving again {timeout}s after the outage ended: {got}"
        time.sleep(0.05)


def run_sqlite_outage(
    home: Path, tmp: Path, *, disk: Path | None, hold_s: float = 3.0, full_s: float = 2.5
) -> dict[str, Any]:
    """Another process holds the write lock for `hold_s`, then (given a disk of its own) the disk fills for `full_s`."""
    settings = Settings(home=home)
    world = stack.make_world(settings, TIERS)
    env = stack.home_env(settings)
    figures: dict[str, Any] = {}
    with FakeUpstream() as upstream:
        serve = stack.start(env, tmp / "serve.log")
        try:
            stack.add_deployments(serve.url, world.admin_key, world, upstream.url)
            for dep in TIERS:
                stack.wait_serving([serve.url], world.app_key, dep)
            with stack.Load(world.app_key, [(serve.url, d) for d in TIERS], concurrency=6) as load:
                load.wait_for(100)
                conn = sqlite3.connect(home / "charter.db", timeout=30, isolation_level=None)
                conn.execute("BEGIN EXCLUSIVE")
                locked = time.time()
                time.sleep(hold_s)  # the fault itself: the lock is held this long
                conn.execute("ROLLBACK")
                conn.close()
                released = time.time()
                figures["recovery_after_lock_s"] = round(_serving_again(load, released), 3)
                load.wait_for(len(load.answers) + 100)
                filling = time.time()
                if disk is not None:
                    filler = fill(disk, home / "charter.db")
                    full = time.time()
                    time.sleep(full_s)  # the outage lasts this long (and at least 100 more calls)
                    load.wait_for(len(load.answers) + 100)
                    filler.unlink()
                    freed = time.time()
                    figures["recovery_after_disk_full_s"] = round(_serving_again(load, freed), 3)
                answers = list(load.answers)
        finally:
            serve.stop()
    # The lock: calls wait for it (up to the 30 s busy timeout), then go on; none is refused or lost.
    stalled = [a for a in answers if locked - 1.0 < a.sent < released - 0.5 and a.received >= released]
    assert stalled, "no call waited for the lock"
    before_disk = [a for a in answers if a.received < filling]
    assert {a.status for a in before_disk} == {200}, {a.code for a in before_disk}
    figures.update(answered=len(answers), stalled_by_lock=len(stalled), lock_held_s=hold_s)
    stored = stack.decisions(settings)
    if disk is not None:
        # The full disk: every call is refused with 503 at once, high-risk or not; none claims an entry.
        during = [a for a in answers if full + 1.0 < a.sent and a.received < freed]
        assert len(during) > 50, "the outage saw too few calls"
        seen = {(a.status, a.code) for a in during}
        assert seen == {(503, "audit_unavailable")}, seen
        refused = [a for a in answers if a.status == 503]
        assert not [a for a in refused if a.decision_id in stored], "a refused call claims an audit entry"
        figures.update(refused_while_disk_full=len(refused))
    lost = stack.lost([a for a in answers if a.status != 503], stored)
    assert not lost, f"{len(lost)} answered calls have no audit entry"
    figures["entries_lost"] = len(lost)
    assert figures["recovery_after_lock_s"] < 5.0 and figures.get("recovery_after_disk_full_s", 0) < 5.0, figures
    report = stack.verify(settings)
    assert report.ok, report.problems
    return figures


def test_sqlite_write_lock_and_full_disk_lose_nothing_and_recover(tmp_path: Path) -> None:
    with small_disk() as disk:
        run_sqlite_outage((disk or tmp_path) / "home", tmp_path, disk=disk)


# --- PostgreSQL ---------------------------------------------------------------------------------------------------
@contextmanager
def gateway_role(schema: str) -> Iterator[tuple[str, Any]]:
    """A login role with ordinary rights on `schema` (dropped afterwards) and an admin engine to take them away."""
    role = "charter_gw_" + secrets.token_hex(4)
    admin = create_engine(pg_sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"))
    try:
        yield role, admin
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"), {"r": role})
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def role_url(role: str) -> str:
    url = pg_sqlalchemy_url()
    scheme, _, rest = url.partition("://")
    host = rest.split("@", 1)[-1]
    return f"{scheme}://{role}@{host}"


LICENSE_TABLES = ("licenses", "license_meta", "deployments")


class Terminator:
    """Terminates every backend of `role` every `every_s` until stopped: connections die mid-transaction."""

    def __init__(self, admin: Any, role: str, every_s: float = 0.1) -> None:
        self.admin, self.role, self.every_s = admin, role, every_s
        self.killed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.admin.connect() as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"), {"r": self.role}
                ).all()
                self.killed += sum(1 for (ok,) in rows if ok)
                self._stop.wait(self.every_s)

    def __enter__(self) -> Terminator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def run_pg_outage(tmp: Path, *, grace_s: int = 4, terminate_s: float = 3.0) -> dict[str, Any]:
    """The PostgreSQL scenario (shared with the soak); returns its figures, asserts its guarantees."""
    with pg_schema() as schema:
        settings = Settings(home=tmp / "home", database_url=pg_sqlalchemy_url(), database_schema=schema)
        world = stack.make_world(settings, TIERS)
        env = stack.home_env(settings)
        with gateway_role(schema) as (role, admin), FakeUpstream() as upstream:
            gw_env = {**env, "CHARTER_DATABASE_URL": role_url(role), "CHARTER_DEGRADED_GRACE_S": str(grace_s)}
            serve = stack.start(env, tmp / "serve.log")
            gateway = stack.start(gw_env, tmp / "gateway.log", command="gateway")
            try:
                stack.add_deployments(serve.url, world.admin_key, world, upstream.url)
                for dep in TIERS:
                    stack.wait_serving([gateway.url], world.app_key, dep)
                with stack.Load(world.app_key, [(gateway.url, d) for d in TIERS], concurrency=6) as load:
                    load.wait_for(100)
                    tables = ", ".join(f"{schema}.{t}" for t in LICENSE_TABLES)
                    with admin.connect() as conn:
                        conn.execute(text(f"REVOKE ALL ON {tables} FROM {role}"))
                    revoked = time.time()
                    time.sleep(grace_s + 2.0)  # the outage lasts past the grace window
                    with admin.connect() as conn:
                        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role}"))
                    granted = time.time()
                    recovery_grant = _serving_again(load, granted)
                    with Terminator(admin, role) as term:
                        terminating = time.time()
                        time.sleep(terminate_s)
                    ended = time.time()
                    recovery_kill = _serving_again(load, ended)
                    load.wait_for(len(load.answers) + 100)
                    answers = list(load.answers)
            finally:
                gateway.stop()
                serve.stop()
        outcomes = _outcomes(settings, answers)
        stored = stack.decisions(settings)
        lost = stack.lost([a for a in answers if a.status != 503], stored)
        assert not lost, f"{len(lost)} answered calls have no audit entry, e.g. {lost[:3]}"
        window = [a for a in answers if revoked + 1.5 < a.sent and a.received < granted]
        hi = [a for a in window if a.deployment == "hi"]
        lo_grace = [a for a in window if a.deployment == "lo" and a.sent < revoked + grace_s - 0.5]
        lo_after = [a for a in window if a.deployment == "lo" and a.sent > revoked + grace_s + 1.5]
        assert hi and lo_grace and lo_after, (len(hi), len(lo_grace), len(lo_after))
        assert {(a.status, a.code) for a in hi} == {(503, "license_status_unavailable")}
        assert {a.status for a in lo_grace} == {200}
        assert {outcomes[a.decision_id] for a in lo_grace if a.decision_id} == {"degraded"}
        assert {(a.status, a.code) for a in lo_after} == {(503, "license_status_unavailable")}
        # No high-risk call was ever served degraded.
        assert not [a for a in answers if a.deployment == "hi" and outcomes.get(a.decision_id or "") == "degraded"]
        during_kill = [a for a in answers if terminating <= a.sent and a.received <= ended]
        report = stack.verify(settings)
        assert report.ok, report.problems
        return {
            "answered": len(answers),
            "high_refused_in_outage": len(hi),
            "low_served_degraded": len(lo_grace),
            "low_refused_after_grace": len(lo_after),
            "answered_while_terminating": len(during_kill),
            "refused_while_terminating": sum(1 for a in during_kill if a.status == 503),
            "backends_terminated": term.killed,
            "recovery_after_grant_s": round(recovery_grant, 3),
            "recovery_after_terminations_s": round(recovery_kill, 3),
            "entries_lost": len(lost),
        }


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason=PG_SKIP)
def test_postgres_privileges_lost_then_backends_killed(tmp_path: Path) -> None:
    figures = run_pg_outage(tmp_path)
    assert figures["backends_terminated"] > 0
    assert figures["recovery_after_grant_s"] < 5.0 and figures["recovery_after_terminations_s"] < 5.0, figures
