"""The real thing: `charter init` + `charter serve` subprocess, driven by the CLI over loopback."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.support.db import env_for
from tests.support.server import Server, cli, free_port

pytestmark = pytest.mark.e2e


def test_cli_against_real_server(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    init = cli(env, "init", "--json")
    assert init.returncode == 0, init.stderr
    key = json.loads(init.stdout)["key"]
    again = cli(env, "init", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["key"] is None
    log = tmp_path / "server.log"
    server = Server(env, log=log, fresh=True).start()  # a real process: how `charter serve` starts
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
        r = cli(
            {**env, "CHARTER_API_KEY": "chk_0123abcdef_" + "x" * 40}, "whoami"
        )  # a key of another server: say which one
        assert r.returncode == 4 and "API key not recognised" in r.stderr and server.url in r.stderr, r.stderr
        r = cli({**env, "CHARTER_URL": "", "CHARTER_PORT": str(server.port)}, "whoami", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["name"] == "admin", r.stderr  # the default URL follows it
        r = cli(env, "nosuch")
        assert r.returncode == 2
    finally:
        server.stop()
    text = log.read_text()
    for secret in (key, alice_key):
        assert secret not in text


def _one_line_error(r: subprocess.CompletedProcess[str], code: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith(f"error: {code}: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr and "listening" not in r.stdout


@pytest.mark.parametrize("command", ["serve", "gateway"])
def test_serve_before_init_says_run_init(command: str, tmp_path: Path) -> None:
    env = {"CHARTER_HOME": str(tmp_path / "nothing-here")}
    r = cli(env, command, "--port", str(free_port()))
    _one_line_error(r, "not_initialised")
    assert "charter init" in r.stderr and "nothing-here" in r.stderr


def test_serve_on_an_unreadable_data_dir_names_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")  # unreadable as a data dir even for root, who ignores permission bits
    r = cli({"CHARTER_HOME": str(home)}, "serve", "--port", str(free_port()))
    _one_line_error(r, "data_dir_unreadable")
    assert str(home) in r.stderr and "CHARTER_HOME" in r.stderr


def test_serve_on_a_busy_port_says_how_to_move(settings: Settings, initialised: InitResult) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = cli(env_for(settings), "serve", "--port", str(port))
    _one_line_error(r, "port_in_use")
    assert f"port {port} on 127.0.0.1 is already in use" in r.stderr and "--port" in r.stderr
