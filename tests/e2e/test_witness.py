"""Witnessed checkpoints for real: a `charter witness serve` process cosigns the checkpoints a `charter serve`
submits; after the log is rolled back (newest rows deleted, head rewound, newer checkpoints deleted) plain
`audit verify` is fooled, `audit verify --witness-key` is not, and the witness refuses the rolled-back log's next
checkpoint."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.audit.cosign import cosigner_key
from charter.audit.merkle import CompactTree
from charter.audit.note import verifier_key
from charter.bootstrap import InitResult
from charter.core.signing import SigningKey, load_keys
from charter.settings import Settings
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

ORIGIN = "charter.local/audit"  # resolve_origin for a server on 127.0.0.1 without a public URL


def _witness(tmp_path: Path, log_vkey: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "charter",
            "witness",
            "serve",
            "--log",
            log_vkey,
            "--dir",
            str(tmp_path / "w"),
            "--name",
            "witness.test/w1",
            "--port",
            str(port),
        ],  # fmt: skip
        stdout=(tmp_path / "witness.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "witness.log").read_text()
        try:
            key = httpx.get(url + "/witness-key", timeout=1).text.strip()
            return proc, url, key
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the witness did not start"
            time.sleep(0.1)


def _cosigned_size(url: str) -> int:
    resp = httpx.get(f"{url}/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint", timeout=5)
    return int(resp.text.split("\n")[1]) if resp.status_code == 200 else 0


def _activity(env: dict[str, str], n: int, prefix: str) -> None:
    """Governance changes (each one an audit entry), through the API."""
    headers = {"Authorization": f"Bearer {env['CHARTER_API_KEY']}"}
    for i in range(n):
        r = httpx.post(
            env["CHARTER_URL"] + "/api/v1/teams", json={"name": f"{prefix}-{i}"}, headers=headers, timeout=10
        )
        assert r.status_code == 201, r.text


def _roll_back(db_path: Path, keep: int) -> None:
    """The log operator's attack: drop entries from `keep` on, rebuild nodes and head, drop newer checkpoints."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN")
    db.execute("DELETE FROM audit_entries WHERE seq >= ?", (keep,))
    db.execute("DELETE FROM audit_checkpoints WHERE size > ?", (keep,))
    db.execute("DELETE FROM audit_nodes")
    tree = CompactTree()
    for (leaf,) in db.execute("SELECT leaf_hash FROM audit_entries ORDER BY seq").fetchall():
        db.executemany("INSERT INTO audit_nodes (height, idx, hash) VALUES (?, ?, ?)", tree.extend([bytes(leaf)]))
    compact = orjson.dumps([h.hex() for h in tree.hashes]).decode()
    db.execute("UPDATE audit_head SET size = ?, compact = ?, root = ? WHERE id = 1", (tree.size, compact, tree.root()))
    db.execute("COMMIT")
    db.close()


def test_witness_cosigns_and_catches_a_rolled_back_log(
    settings: Settings, initialised: InitResult, tmp_path: Path
) -> None:
    log_vkey = verifier_key(ORIGIN, load_keys(settings.keys_dir).audit.public_raw)
    witness, wurl, wkey = _witness(tmp_path, log_vkey)
    env = {
        **env_for(settings),
        "CHARTER_WITNESSES": f"{wkey}@{wurl}",
        "CHARTER_CHECKPOINT_INTERVAL_S": "0.2",
    }
    try:
        server = Server(env, log=tmp_path / "serve.log").start(timeout=90)
        admin = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
        try:
            _activity(admin, 6, "before")
            deadline = time.monotonic() + 20
            while (size := _cosigned_size(wurl)) < 6:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
                time.sleep(0.1)
            published = httpx.get(server.url + "/.well-known/charter/checkpoint", timeout=5).text
        finally:
            server.stop()
        size = _cosigned_size(wurl)  # the loop may have cosigned a newer checkpoint before the server stopped
        assert "\u2014 witness.test/w1 " in published  # the cosigned note is what the log publishes

        ok = cli(env, "audit", "verify", "--witness-key", f"{wkey}@{wurl}")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "witness.test/w1 cosigned" in ok.stdout
        # one of two witnesses suffices (--witnesses 1); the one that could not vouch is still named
        gone_key = cosigner_key("witness.test/w2", SigningKey(Ed25519PrivateKey.generate()).public_raw)
        one = cli(env, "audit", "verify", "--witness-key", f"{wkey}@{wurl}", "--witness-key",
                  f"{gone_key}@http://127.0.0.1:9", "--witnesses", "1")  # fmt: skip
        assert one.returncode == 0, one.stdout + one.stderr
        assert "witness witness.test/w2: unreachable" in one.stdout, one.stdout

        _roll_back(settings.home / "charter.db", keep=size - 3)
        fooled = cli(env, "audit", "verify")
        assert fooled.returncode == 0, "without witnesses the rolled-back log verifies (the attack the issue names)"
        caught = cli(env, "audit", "verify", "--witness-key", f"{wkey}@{wurl}")
        assert caught.returncode == 1, caught.stdout + caught.stderr
        assert "tail truncated" in caught.stdout and f"checkpoint {size}" in caught.stdout
        assert f"witness witness.test/w1 cosigned checkpoint {size}; this log does not extend it" in caught.stdout

        # Started again, the rolled-back log grows and checkpoints; the witness refuses to cosign it.
        server = Server(env, log=tmp_path / "serve2.log").start(timeout=90)
        admin["CHARTER_URL"] = server.url
        try:
            _activity(admin, 6, "after")
            deadline = time.monotonic() + 20
            # grown past the witnessed size, its checkpoints are inconsistent with it: named, not just "422"
            while "does not extend the checkpoint it cosigned" not in (tmp_path / "serve2.log").read_text():
                assert time.monotonic() < deadline, (tmp_path / "serve2.log").read_text()[-2000:]
                time.sleep(0.1)
        finally:
            server.stop()
        assert _cosigned_size(wurl) == size  # still the honest log's size
        still = cli(env, "audit", "verify", "--witness-key", f"{wkey}@{wurl}")
        assert still.returncode == 1, still.stdout + still.stderr
        # grown past the witnessed size, the log still does not extend it: named as a rollback or rewrite
        assert f"witness witness.test/w1 cosigned checkpoint {size}; this log does not extend it" in still.stdout
        assert "rolled back or rewritten" in still.stdout, still.stdout
    finally:
        witness.terminate()
        witness.wait(10)
    # the key it prints is on the line it labels (not wrapped to the next at 80 columns), ready to copy or grep
    assert f"witness key: {wkey}\n" in (tmp_path / "witness.log").read_text()
