"""SIGKILL a process in the middle of a write load: every acknowledged entry survives and the log verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import text

from charter import bootstrap
from charter.audit.export import verify_database
from charter.audit.service import AuditLog
from charter.settings import Settings
from tests.support.db import env_for

WRITER = r"""
import sys, threading
from charter import bootstrap
from charter.audit.writer import GroupCommitWriter
from charter.core.events import AuditEvent
from charter.settings import Settings

c = bootstrap.build(Settings())
log = c.audit_log
log.checkpointer.interval_s = 0.05
log.checkpointer.start()
writer = GroupCommitWriter(c.uow, c.audit, max_batch=100)
out = threading.Lock()

def load(k):
    i = 0
    while True:
        event = AuditEvent("app:load%d" % k, "inference.allow", "deployment:d", details={"i": i},
                           sensitive={"request": b"x" * 200}, governance=i % 50 == 0)
        seq = writer.submit(event).result()
        with out:
            sys.stdout.write("%d\n" % seq)
            sys.stdout.flush()
        i += 1

for k in range(16):
    threading.Thread(target=load, args=(k,), daemon=True).start()
threading.Event().wait()
"""


def test_acknowledged_entries_survive_sigkill(settings: Settings, initialised: bootstrap.InitResult) -> None:
    env = {**os.environ, **env_for(settings), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True)
    acked: list[int] = []
    deadline = time.monotonic() + 120
    try:
        assert proc.stdout is not None
        while len(acked) < 3000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(int(line))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert len(acked) >= 3000, f"the writer acknowledged only {len(acked)} entries"
    assert len(set(acked)) == len(acked)

    container = bootstrap.build(settings)  # the restart
    try:
        with container.engine.connect() as conn:
            stored = {r[0] for r in conn.execute(text("SELECT seq FROM audit_entries"))}
        missing = sorted(set(acked) - stored)
        assert not missing, f"acknowledged but lost: {missing[:10]}"
        report = verify_database(container.engine, public_raw=container.keys.audit.public_raw, deep=True)
        assert report.ok, report.problems
        assert report.size >= max(acked) + 1 and report.checkpoints >= 1
        log = container.audit_log
        assert isinstance(log, AuditLog)
        after = log.checkpointer.checkpoint()  # signing resumes, consistent with the last checkpoint before the crash
        assert after is not None and after.size == report.size
    finally:
        container.close()
