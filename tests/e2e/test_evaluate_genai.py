"""A generative chatbot through a real `charter serve` and the CLI: its garak report shows attack success above the
GenAI baseline (exit 1, rule and value named) and its license, signed by every reviewer, cannot become active; a report
from another tool is refused naming the file and line (exit 2, nothing stored); the hardened chatbot's report passes
(exit 0) and the license activates with a condition on the gateway's tool-scope refusal rate. Calls through the
gateway (OpenAI-compatible upstream on loopback) that ask for an unlicensed tool then drive that rate over the
threshold, and monitoring suspends the license."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.integration.policies_eval.test_genai_evaluation import HARDENED, VULNERABLE, register_chatbot
from tests.support.db import admin_key, audit_docs, env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.server import Server, cli

pytestmark = pytest.mark.e2e
REF = "support-chatbot@1.0.0"
LM_EVAL = VULNERABLE.parent / "lm-eval-results.json"
CONDITION = "gateway.tool_scope_refusal_rate < 0.2 => suspend"
MONITOR = {  # short windows and checks, so the test waits seconds, not an hour
    "CHARTER_MONITOR_WINDOW_S": "20",
    "CHARTER_MONITOR_FLUSH_S": "0.2",
    "CHARTER_MONITOR_CHECK_S": "0.3",
    "CHARTER_MONITOR_GATEWAY_MIN_CALLS": "5",
    "CHARTER_SCHEDULER_INTERVAL_S": "0.5",
}


@pytest.fixture
def served(settings: Settings, initialised: InitResult, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**env_for(settings), "COLUMNS": "240", **MONITOR}
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        yield {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
    finally:
        server.stop()


def _wait(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _licensed_after_signoffs(admin: httpx.Client, served: dict[str, str]) -> str:
    """The chatbot's production license with the gateway condition, requested and signed by every reviewer."""
    r = cli(served, "license", "request", REF, "--env", "production", "--purpose", "customer-support", "--caller",
            "app:helpdesk", "--tool", "lookup_order", "--days", "30", "--condition", CONDITION, "--json")  # fmt: skip
    assert r.returncode == 0, (r.stdout, r.stderr)
    lic = json.loads(r.stdout)
    assert lic["conditions"] == [
        {"metric": "gateway.tool_scope_refusal_rate", "op": "<", "value": 0.2, "action": "suspend", "after": 1}
    ]
    for fn in lic["required_signoffs"]:
        assert admin.post("/users", json={"name": f"rev-{fn}"}).status_code == 201
        assert admin.post("/roles", json={"principal": f"rev-{fn}", "role": "reviewer", "function": fn}).is_success
        key = admin.post("/keys", json={"principal": f"rev-{fn}"}).json()["key"]
        signed = cli({**served, "CHARTER_API_KEY": key}, "license", "approve", lic["id"], "--as", fn, "--json")
        assert signed.returncode == 0, (signed.stdout, signed.stderr)
    return str(lic["id"])


def _chat(url: str, key: str, tool: str) -> httpx.Response:
    body = {
        "model": "support-prod",
        "messages": [{"role": "user", "content": "where is my order?"}],
        "tools": [{"type": "function", "function": {"name": tool}}],
    }
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "customer-support"}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


@pytest.mark.timeout(600)
def test_chatbot_blocked_by_attack_success_then_licensed_until_refused_calls_suspend_it(
    served: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    artifact = tmp_path / "chatbot.json"
    artifact.write_text('{"model": "acme/support-chatbot-7b", "system_prompt": "You are Acme support."}\n')
    headers = {"Authorization": f"Bearer {served['CHARTER_API_KEY']}"}
    admin = httpx.Client(base_url=served["CHARTER_URL"] + "/api/v1", headers=headers, timeout=60)
    with httpx.Client(base_url=served["CHARTER_URL"], headers=headers, timeout=60) as client:
        register_chatbot(client, artifact)  # type: ignore[arg-type]

    r = cli(served, "evaluate", REF, "--artifact", str(artifact), "--garak", str(VULNERABLE))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "GENAI-ATTACK-SUCCESS" in r.stdout and "genai.attack_success_rate=0.16" in r.stdout, r.stdout
    assert "thresholds.attack_success_rate_max=0.05" in r.stdout and r.stderr == ""

    # Cannot be licensed: every reviewer signs, yet the license stays approved, blocked by the assessment.
    assert admin.post("/apps", json={"name": "helpdesk"}).status_code == 201
    app_key = admin.post("/keys", json={"principal": "app:helpdesk"}).json()["key"]
    license_id = _licensed_after_signoffs(admin, served)
    status = admin.get(f"/licenses/{license_id}/status").json()
    assert status["state"] == "approved" and not status["ready"] and status["missing_signoffs"] == []
    assert any("GENAI-ATTACK-SUCCESS" in m for m in status["missing"]), status["missing"]

    r = cli(served, "evaluate", REF, "--artifact", str(artifact), "--garak", str(LM_EVAL))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "lm-eval-results.json: line 1: invalid JSON" in r.stderr and "not a garak report" in r.stderr

    r = cli(served, "evaluate", REF, "--garak", str(HARDENED), "--lm-eval", str(LM_EVAL), "--artifact", str(artifact),
            "--json")  # fmt: skip
    assert r.returncode == 0, (r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    genai = doc["assessment"]["evidence"]["genai"]
    assert genai["attack_success_rate"] == pytest.approx(0.02) and genai["task_accuracy"]["gsm8k"] == 0.5133
    assert [s["tool"] for s in doc["evaluation"]["inputs"]["genai"]] == ["garak", "lm_eval"]
    items = admin.get("/systems/support-chatbot/versions/1.0.0/evaluations").json()["items"]
    assert len(items) == 2  # the refused report stored nothing

    # The passing assessment unblocks the signed license: the scheduler activates it.
    _wait("the license to activate", lambda: admin.get(f"/licenses/{license_id}").json()["state"] == "active")

    with FakeUpstream() as upstream:
        r = cli(served, "deployment", "add", "support-prod", "--model", REF, "--env", "production", "--upstream",
                upstream.url, "--json")  # fmt: skip
        assert r.returncode == 0, (r.stdout, r.stderr)
        url = served["CHARTER_URL"]
        _wait("the gateway to serve the license", lambda: _chat(url, app_key, "lookup_order").status_code == 200)
        for _ in range(5):  # in scope: the condition holds (0 of 6 refused)
            assert _chat(url, app_key, "lookup_order").status_code == 200

        # The agent starts asking for a tool its license does not cover: refused, until monitoring suspends.
        def refused_until_suspended() -> bool:
            resp = _chat(url, app_key, "issue_refund")
            assert resp.status_code == 403, resp.text
            if resp.json()["code"] == "license_suspended":
                return True
            assert resp.json()["code"] == "tool_not_in_scope", resp.text
            return False

        _wait("monitoring to suspend the license", refused_until_suspended)
    lic = admin.get(f"/licenses/{license_id}").json()
    assert lic["state"] == "suspended"
    breach = next(d for d in audit_docs(settings, "monitoring.breach") if d["resource"] == f"license:{license_id}")
    evidence = breach["details"]
    assert evidence["metric"] == "gateway.tool_scope_refusal_rate" and evidence["condition"] == CONDITION
    assert evidence["observed"] >= 0.2 and evidence["action"] == "suspend"
    r = cli(served, "monitor", "status", REF, "--json")
    assert r.returncode == 1, (r.stdout, r.stderr)  # a breached condition
    doc = json.loads(r.stdout)
    assert doc["breached"] and doc["profile"] is None  # an LLM: no reference profile, only the gateway's counts
    assert doc["window"]["sources"] == ["gateway"] and doc["window"]["metrics"]["gateway.calls"] >= 5
    assert [(c["metric"], c["status"]) for c in doc["conditions"]] == [("gateway.tool_scope_refusal_rate", "breached")]
