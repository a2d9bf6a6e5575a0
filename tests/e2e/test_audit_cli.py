"""`charter audit …` against a real server, then offline: export, verify, tamper, verify again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli

pytestmark = pytest.mark.e2e


def test_audit_commands(settings: Settings, initialised: InitResult, tmp_path: Path) -> None:
    env = env_for(settings)
    key = admin_key(initialised)
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": key}
        for name in ("risk", "ops"):
            assert cli(env, "team", "add", name).returncode == 0
        r = cli(env, "audit", "log", "--json", "--action", "team.*")
        assert r.returncode == 0, r.stderr
        assert [e["resource"] for e in json.loads(r.stdout)["items"]] == ["team:ops", "team:risk"]
        r = cli(env, "audit", "log", "--limit", "1")
        assert r.returncode == 0 and "team.create" in r.stdout and "--cursor" in r.stdout

        r = cli(env, "audit", "proof", "1", "--json")
        assert r.returncode == 0, r.stderr
        proof = json.loads(r.stdout)
        assert proof["verified"] and proof["signed"] and proof["size"] >= 3

        export = tmp_path / "audit.jsonl"
        r = cli(env, "audit", "export", "--output", str(export))
        assert r.returncode == 0, r.stderr
        key_url = server.url + "/.well-known/charter/audit-key"
        r = cli(env, "audit", "verify", "--from-export", str(export), "--key", key_url, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["ok"], r.stdout
        r = cli(env, "audit", "export", "--format", "csv")
        assert r.returncode == 0 and r.stdout.startswith("seq,ts,actor")
        saved = tmp_path / "checkpoint.txt"
        saved.write_text(proof["checkpoint"])
    finally:
        server.stop()

    # Offline, from the database and from the export.
    r = cli(env_for(settings), "audit", "verify", "--checkpoint", str(saved))
    assert r.returncode == 0 and r.stdout.startswith("✓"), r.stdout + r.stderr
    forged = export.read_bytes().replace(b"team:ops", b"team:opz")
    bad_export = tmp_path / "forged.jsonl"
    bad_export.write_bytes(forged)
    r = cli(env_for(settings), "audit", "verify", "--from-export", str(bad_export))
    assert r.returncode == 1 and "first bad entry" in r.stdout

    engine = create_engine(settings.resolved_database_url, connect_args=_schema(settings))
    with engine.begin() as conn:
        body = conn.execute(text("SELECT body FROM audit_entries WHERE seq = 1")).scalar_one()
        conn.execute(
            text("UPDATE audit_entries SET body = :b WHERE seq = 1"), {"b": bytes(body).replace(b"risk", b"r1sk")}
        )
    engine.dispose()
    r = cli(env_for(settings), "audit", "verify", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and not doc["ok"] and doc["first_bad"]["seq"] == 1, r.stdout
    r = cli(env_for(settings), "audit", "verify")
    assert r.returncode == 1 and "seq 1:" in r.stdout


def _schema(settings: Settings) -> dict[str, str]:
    return {"options": f"-csearch_path={settings.database_schema}"} if settings.database_schema else {}
