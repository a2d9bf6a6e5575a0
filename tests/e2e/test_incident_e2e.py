"""Obligations after go-live for real: `charter serve` + `charter gateway`; `charter incident report --suspend`
stops the gateway within a second; `charter attest` and `charter controls status` through the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from charter import bootstrap
from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.support.db import admin_key, env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.gateway_fake.world import licensed
from tests.support.server import Server, cli

pytestmark = pytest.mark.e2e

CHAT = {"model": "credit-prod", "messages": [{"role": "user", "content": "score applicant 42"}]}


def _post(url: str, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}
    return httpx.post(url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=10)


def _json(r: Any) -> Any:
    assert r.returncode in (0, 1), r.stdout + r.stderr
    return json.loads(r.stdout)


def test_incident_suspends_the_gateway_and_controls_status(
    settings: Settings, initialised: InitResult, tmp_path: Path
) -> None:
    env = env_for(settings)
    c = bootstrap.build(settings)
    try:
        world = licensed(c)
    finally:
        c.close()
    with FakeUpstream() as upstream:
        server = Server(env, log=tmp_path / "serve.log").start(timeout=90)
        gateway = Server(env, command="gateway", log=tmp_path / "gateway.log").start(timeout=90)
        try:
            env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
            r = cli(env, "deployment", "add", "credit-prod", "--model", "credit@1.0", "--upstream", upstream.url)
            assert r.returncode == 0, r.stdout + r.stderr
            deadline = time.monotonic() + 5
            while _post(gateway.url, world.app_key).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _post(gateway.url, world.app_key).status_code == 200

            r = cli(env, "incident", "report", "credit", "--kind", "critical_infrastructure", "--aware-at",
                    "2026-01-09T11:00:00", "--time-zone", "Europe/Berlin", "--suspend", "--member-state", "DE",
                    "--json")  # fmt: skip
            reported_at = time.monotonic()
            incident = _json(r)
            assert incident["last_day"] == "2026-01-13" and incident["article"] == "Art. 73(3)"
            assert "ends at midnight Europe/Berlin" in incident["deadline_note"]  # 23:00 UTC in winter
            assert incident["due_at"].startswith("2026-01-13T23:00:00")
            assert incident["suspended_licenses"] == [world.license_id]
            while (resp := _post(gateway.url, world.app_key)).status_code == 200:
                assert time.monotonic() - reported_at < 1.0, "gateway still serving after the incident suspension"
                time.sleep(0.02)
            assert resp.status_code == 403 and resp.json()["code"] == "license_suspended"
            assert time.monotonic() - reported_at < 1.0

            listed = _json(cli(env, "incident", "list", "--status", "open", "--json"))["items"]
            assert [i["id"] for i in listed] == [incident["id"]]
            human = cli(env, "incident", "show", incident["id"])
            assert human.returncode == 0 and "Art. 3(5)" in human.stdout
            assert "member state: DE" in human.stdout and "reported by user:admin" in human.stdout
            assert f"/incidents/{incident['id']}/report" in human.stdout
            page = tmp_path / "art73.html"
            r = cli(env, "report", "incident", incident["id"], "--output", str(page))
            assert r.returncode == 0 and "Art. 73(3)" in page.read_text(), r.stderr

            evidence = tmp_path / "literacy.csv"
            evidence.write_text("name,completed\nrita,2026-11-30\n")
            att = _json(cli(env, "attest", "EUAIA-ART4", "--system", "credit", "--evidence", str(evidence),
                            "--valid-days", "30", "--json"))  # fmt: skip
            assert att["evidence_stored"] and att["control"] == "EUAIA-ART4"
            status = cli(env, "controls", "status", "credit", "--json")
            doc = json.loads(status.stdout)
            art4 = next(i for i in doc["controls"] if i["id"] == "EUAIA-ART4")
            assert art4["status"] == "attested"
            assert status.returncode == (1 if any(not i["ok"] for i in doc["controls"]) else 0)
        finally:
            gateway.stop()
            server.stop()
