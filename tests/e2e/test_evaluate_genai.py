"""A generative chatbot through a real `charter serve` and the CLI: its garak report shows attack success above the
GenAI baseline (exit 1, rule and value named), a report from another tool is refused naming the file and line (exit 2,
nothing stored), and the hardened chatbot's report passes (exit 0)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.integration.policies_eval.test_genai_evaluation import HARDENED, VULNERABLE, register_chatbot
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli

pytestmark = pytest.mark.e2e
REF = "support-chatbot@1.0.0"
LM_EVAL = VULNERABLE.parent / "lm-eval-results.json"


@pytest.fixture
def served(settings: Settings, initialised: InitResult, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**env_for(settings), "COLUMNS": "240"}
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        yield {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
    finally:
        server.stop()


def test_chatbot_blocked_by_attack_success_then_hardened_passes(served: dict[str, str], tmp_path: Path) -> None:
    artifact = tmp_path / "chatbot.json"
    artifact.write_text('{"model": "acme/support-chatbot-7b", "system_prompt": "You are Acme support."}\n')
    headers = {"Authorization": f"Bearer {served['CHARTER_API_KEY']}"}
    with httpx.Client(base_url=served["CHARTER_URL"], headers=headers, timeout=60) as client:
        register_chatbot(client, artifact)  # type: ignore[arg-type]

    r = cli(served, "evaluate", REF, "--artifact", str(artifact), "--garak", str(VULNERABLE))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "GENAI-ATTACK-SUCCESS" in r.stdout and "genai.attack_success_rate=0.16" in r.stdout, r.stdout
    assert "thresholds.attack_success_rate_max=0.05" in r.stdout and r.stderr == ""

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
    with httpx.Client(base_url=served["CHARTER_URL"], headers=headers, timeout=60) as client:
        items = client.get("/api/v1/systems/support-chatbot/versions/1.0.0/evaluations").json()["items"]
    assert len(items) == 2  # the refused report stored nothing
