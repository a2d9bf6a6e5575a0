"""The real thing: `charter init` + `charter serve` subprocess, driven by the CLI over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charter.settings import Settings
from tests.support.db import env_for
from tests.support.server import Server, cli

pytestmark = pytest.mark.e2e


def test_cli_against_real_server(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    init = cli(env, "init", "--json")
    assert init.returncode == 0, init.stderr
    key = json.loads(init.stdout)["key"]
    again = cli(env, "init", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["key"] is None
    log = tmp_path / "server.log"
    server = Server(env, log=log).start()
    try:
        env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": key}
        r = cli(env, "whoami", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["name"] == "admin"
        assert cli(env, "team", "add", "risk").returncode == 0
        assert cli(env, "user", "add", "alice", "--team", "risk").returncode == 0
        r = cli(env, "key", "create", "alice", "--json")
        alice_key = json.loads(r.stdout)["key"]
        r = cli({**env, "CHARTER_API_KEY": alice_key}, "user", "add", "mallory")
        assert r.returncode == 4 and r.stderr.startswith("error: permission_denied:")
        r = cli(env, "role", "grant", "alice", "reviewer")
        assert r.returncode == 2 and "--function" in r.stderr
        r = cli(env, "role", "grant", "ghost", "viewer", "--json")
        assert r.returncode == 3 and json.loads(r.stdout)["code"] == "principal_not_found"
        r = cli({**env, "CHARTER_API_KEY": ""}, "whoami")
        assert r.returncode == 4
        r = cli({**env, "CHARTER_URL": "http://127.0.0.1:1"}, "whoami")
        assert r.returncode == 5 and "cannot reach" in r.stderr
        r = cli(env, "nosuch")
        assert r.returncode == 2
    finally:
        server.stop()
    text = log.read_text()
    for secret in (key, alice_key):
        assert secret not in text
