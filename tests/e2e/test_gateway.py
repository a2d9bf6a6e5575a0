"""The gateway for real: `charter serve` + a separate `charter gateway`, an OpenAI-shaped upstream on loopback.

Allowed calls pass (JSON and SSE); a tool outside the license is refused; `charter license suspend` is enforced by
both processes within a second; every call has an audit entry and the log verifies; a gateway killed with SIGKILL
under load has lost no entry of any call that got a response.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from charter import bootstrap
from charter.bootstrap import InitResult
from charter.guard import Guard, LicenseDenied
from charter.settings import Settings
from tests.support.db import admin_key, audit_docs, env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.gateway_fake.world import licensed
from tests.support.server import Server, cli

pytestmark = pytest.mark.e2e

CHAT = {"model": "credit-prod", "messages": [{"role": "user", "content": "score applicant 42"}]}
LOOKUP = [{"type": "function", "function": {"name": "lookup_customer"}}]
EMAIL = [{"type": "function", "function": {"name": "send_email"}}]


def _licensed(settings: Settings) -> tuple[str, str]:
    c = bootstrap.build(settings)
    try:
        world = licensed(c)
    finally:
        c.close()
    return world.license_id, world.app_key


def _entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """Inference audit entries by decision id."""
    return {d["details"]["decision_id"]: d for d in audit_docs(settings, "inference.%")}


def _post(url: str, key: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=10, **kw)


async def _hammer(url: str, key: str, seconds: float, concurrency: int) -> tuple[list[str], int]:
    """Calls until `seconds` pass or the gateway dies; returns decision ids of answered calls and the failures."""
    answered: list[str] = []
    failures = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while time.monotonic() < deadline:
            try:
                async with session.post(url + "/v1/chat/completions", json=CHAT, headers=headers) as resp:
                    await resp.read()
                    answered.append(resp.headers["Charter-Decision-Id"])
            except (TimeoutError, aiohttp.ClientError):
                failures += 1
                await asyncio.sleep(0.05)

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return answered, failures


def test_gateway_end_to_end(settings: Settings, initialised: InitResult, tmp_path: Path) -> None:
    env = env_for(settings)
    admin = admin_key(initialised)
    license_id, app_key = _licensed(settings)
    with FakeUpstream(chunk_delay_s=0.05) as upstream:
        server = Server(env, log=tmp_path / "serve.log").start(timeout=90)
        gateway = Server(env, command="gateway", log=tmp_path / "gateway.log").start(timeout=90)
        try:
            env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin}
            r = cli(env, "deployment", "add", "credit-prod", "--model", "credit@1.0", "--env", "production",
                    "--upstream", upstream.url, "--json")  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr
            assert json.loads(r.stdout)["digest"].startswith("sha256:")
            listed = json.loads(cli(env, "deployment", "list", "--json").stdout)["items"]
            assert [d["name"] for d in listed] == ["credit-prod"]

            # Allowed, on the embedded gateway and on the standalone one (within a second of the deployment).
            deadline = time.monotonic() + 5
            while _post(gateway.url, app_key, CHAT).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            decisions: list[str] = []
            for url in (server.url, gateway.url):
                resp = _post(url, app_key, {**CHAT, "tools": LOOKUP})
                assert resp.status_code == 200, resp.text
                assert resp.json()["choices"][0]["message"]["content"] == "approved"
                decisions.append(resp.headers["charter-decision-id"])
            assert "authorization" not in upstream.seen_headers[-1]
            with httpx.stream(
                "POST",
                gateway.url + "/v1/chat/completions",
                json={**CHAT, "stream": True},
                headers={"Authorization": f"Bearer {app_key}", "Charter-Purpose": "credit-scoring"},
            ) as stream:
                assert stream.status_code == 200
                text = b"".join(stream.iter_raw())
                decisions.append(stream.headers["charter-decision-id"])
            assert text.count(b"data: ") == 6 and text.endswith(b"data: [DONE]\n\n")

            # A tool outside the license's scope.
            resp = _post(gateway.url, app_key, {**CHAT, "tools": EMAIL})
            assert resp.status_code == 403 and resp.json()["code"] == "tool_not_in_scope"
            decisions.append(resp.headers["charter-decision-id"])

            # The SDK against the same server: same checks, same audit entries.
            guard = Guard("credit-prod", purpose="credit-scoring", url=server.url, api_key=app_key)
            assert guard(lambda x: x * 2)(21) == 42 and guard.last is not None and guard.last.allowed
            decisions.append(guard.last.decision_id)
            with pytest.raises(LicenseDenied) as denied:
                guard.check(tools=("send_email",))
            assert denied.value.code == "tool_not_in_scope"

            # SIGKILL under load: every call that got an answer has its entry.
            answered, failures = asyncio.run(_kill_under_load(gateway, app_key))
            assert len(answered) > 20 and failures > 0
            gateway = Server(env, command="gateway", log=tmp_path / "gateway2.log").start(timeout=90)

            # Suspension reaches both processes within a second.
            r = cli(env, "license", "suspend", license_id, "--reason", "drift above threshold")
            assert r.returncode == 0, r.stdout + r.stderr
            suspended_at = time.monotonic()
            for url in (server.url, gateway.url):
                while True:
                    resp = _post(url, app_key, CHAT)
                    if resp.status_code == 403:
                        break
                    assert resp.status_code == 200
                    assert time.monotonic() - suspended_at < 1.0, f"{url} still serving a suspended license"
                    time.sleep(0.02)
                assert resp.json()["code"] == "license_suspended" and resp.json()["license_id"] == license_id
                decisions.append(resp.headers["charter-decision-id"])
            assert time.monotonic() - suspended_at < 1.0
            with pytest.raises(LicenseDenied) as denied:
                guard.check()
            assert denied.value.code == "license_suspended"
        finally:
            gateway.stop()
            server.stop()

    entries = _entries(settings)
    missing = [d for d in decisions + answered if d not in entries]
    assert not missing, f"{len(missing)} answered calls have no audit entry, e.g. {missing[:3]}"
    assert entries[decisions[0]]["action"] == "inference.allow"
    assert set(entries[decisions[0]]["digests"]) == {"request", "response"}
    assert entries[decisions[3]]["details"]["reason"] == "tool_not_in_scope"
    assert entries[decisions[4]]["details"]["via"] == "sdk"
    verify = cli(env_for(settings), "audit", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for log in tmp_path.glob("*.log"):
        for secret in (admin, app_key):
            assert secret not in log.read_text(errors="replace")


async def _kill_under_load(gateway: Server, key: str) -> tuple[list[str], int]:
    load = asyncio.create_task(_hammer(gateway.url, key, seconds=3.0, concurrency=16))
    await asyncio.sleep(1.5)
    assert gateway.proc is not None
    gateway.proc.kill()  # SIGKILL: no shutdown hook runs
    await asyncio.to_thread(gateway.proc.wait, 10)
    return await load
