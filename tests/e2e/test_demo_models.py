"""The tour's gateway calls for real: `charter demo`, the demo model server and `charter serve` as processes.

An app of the demo calls credit-scoring through the gateway and gets the model's answer; the suspended chatbot is
refused before its model; both calls are in the audit log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli, free_port

pytestmark = pytest.mark.e2e


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"demo models exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"demo models not listening on {port}")


def _until(check: Callable[[], bool], timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_demo_gateway_calls_reach_the_demo_models(settings: Settings, initialised: InitResult, tmp_path: Path) -> None:
    port = free_port()
    env = {**env_for(settings), "CHARTER_DEMO_MODELS_URL": f"http://127.0.0.1:{port}"}
    admin = admin_key(initialised)
    loaded = cli(env, "demo", "--json")
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    keys = {x["name"]: x["key"] for x in json.loads(loaded.stdout)["logins"]}

    log = (tmp_path / "models.log").open("wb")
    cmd = [sys.executable, "-m", "charter.demo.models"]
    models = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    server = Server(env, log=tmp_path / "serve.log")
    try:
        _wait_port(port, models)
        server.start(timeout=90)
        loan = {"Authorization": f"Bearer {keys['app:loan-portal']}", "Charter-Purpose": "credit-decisioning"}
        resp = httpx.post(f"{server.url}/gw/credit-scoring/predict", json={"income": 52000, "debt": 9000}, headers=loan)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"score": 0.7506, "decision": "approve"}  # as docs/demo.md shows
        allowed = resp.headers["charter-decision-id"]

        widget = {"Authorization": f"Bearer {keys['app:support-widget']}", "Charter-Purpose": "customer-support"}
        chat = {"model": "support-chatbot", "messages": [{"role": "user", "content": "Where is my parcel?"}]}
        refused = httpx.post(f"{server.url}/v1/chat/completions", json=chat, headers=widget)
        assert refused.status_code == 403 and refused.json()["code"] == "license_suspended", refused.text

        audit_env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin}
        entries = cli(audit_env, "audit", "log", "--action", "inference.allow", "--json")
        assert entries.returncode == 0, entries.stderr
        assert allowed in entries.stdout
        denied = cli(audit_env, "audit", "log", "--action", "inference.deny", "--json")
        assert refused.headers["charter-decision-id"] in denied.stdout

        # Offboarding an app: the gateway refuses its key within the key cache's 5 s; enabling restores it.
        off = cli(audit_env, "app", "disable", "loan-portal", "--reason", "key leaked", "--json")
        assert off.returncode == 0 and json.loads(off.stdout)["disabled"] is True, off.stderr
        body = {"income": 52000, "debt": 9000}
        predict = f"{server.url}/gw/credit-scoring/predict"
        assert _until(lambda: httpx.post(predict, json=body, headers=loan).status_code == 401)
        on = cli(audit_env, "app", "enable", "loan-portal", "--json")
        assert on.returncode == 0 and json.loads(on.stdout)["disabled"] is False, on.stderr
        assert _until(lambda: httpx.post(predict, json=body, headers=loan).status_code == 200)
    finally:
        server.stop()
        models.terminate()
        models.wait(10)
        log.close()
