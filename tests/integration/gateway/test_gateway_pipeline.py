"""The gateway pipeline over real HTTP: real uvicorn, real aiohttp upstream, real keys and audit log.

The license index is fed from a snapshot the test controls (the licenses domain has its own tests; the e2e test
runs the whole product), so every denial path can be driven deterministically.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from charter.audit.tables import AuditEntryRow
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import AppCreate, KeyCreate
from charter.bootstrap import Container
from charter.deployments.index import Snapshot
from charter.deployments.model import Deployment, DeploymentKind, Grant
from charter.gateway.handler import Gateway
from charter.gateway.index import LiveIndex
from tests.integration.gateway.harness import served_gateway
from tests.support.builders import user
from tests.support.gateway_fake import FakeUpstream

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

DIGEST = "sha256:" + "ab" * 32


class World:
    def __init__(self, container: Container, upstream: FakeUpstream) -> None:
        self.container = container
        self.upstream = upstream
        now = time.time()
        self.grant = Grant(
            license_id="lic_test",
            digest=DIGEST,
            env="production",
            state="active",
            purposes=frozenset({"credit-scoring"}),
            callers=frozenset({"app:loan-portal"}),
            tools=frozenset({"lookup_customer"}),
            nbf=now - 60,
            exp=now + 3600,
        )
        self.deps = {
            "credit-prod": Deployment(
                id="dep_1",
                name="credit-prod",
                model="credit@1",
                system="credit",
                digest=DIGEST,
                env="production",
                upstream=upstream.url,
            ),
            "credit-raw": Deployment(
                id="dep_2",
                name="credit-raw",
                model="credit@1",
                system="credit",
                digest=DIGEST,
                env="production",
                upstream=upstream.url + "/anything",
                kind=DeploymentKind.HTTP,
            ),
            "dead": Deployment(
                id="dep_3",
                name="dead",
                model="credit@1",
                system="credit",
                digest=DIGEST,
                env="production",
                upstream="http://127.0.0.1:1",
            ),
        }
        self.version = 1
        self.index = LiveIndex(self._probe, self._load, poll_s=0.05)

    def _probe(self) -> int:
        return self.version

    def _load(self) -> Snapshot:
        return Snapshot(version=self.version, grants={(DIGEST, "production"): (self.grant,)}, deployments=self.deps)

    def change(self, **fields: Any) -> None:
        self.grant = replace(self.grant, **fields)
        self.version += 1
        self.settle()

    def settle(self) -> None:
        """Wait until the gateway's index has loaded the world's current version (a condition, not a fixed sleep)."""
        deadline = time.monotonic() + 10
        while self.index.snapshot.version != self.version:
            assert time.monotonic() < deadline, f"index stuck at {self.index.snapshot.version}, want {self.version}"
            time.sleep(0.01)


@pytest.fixture
def world(container: Container) -> Iterator[tuple[World, Gateway, str, str]]:
    with container.uow() as uow:
        auth_service.add_app(uow, SYSTEM_ACTOR, AppCreate(name="loan-portal"))
    with container.uow() as uow:
        key = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="app:loan-portal")).key
    with container.uow() as uow:
        auth_service.add_app(uow, SYSTEM_ACTOR, AppCreate(name="intruder"))
    with container.uow() as uow:
        other = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="app:intruder")).key

    with FakeUpstream(chunk_delay_s=0.2) as upstream:
        w = World(container, upstream)
        # The fence is the world's license state version, as the real gateway's is the license_meta row's.
        with served_gateway(container, w.index, fence=lambda conn: w.version) as (gw, url):
            w.url = url  # type: ignore[attr-defined]
            yield w, gw, key, other


def _post(url: str, key: str, body: dict[str, Any], purpose: str | None = "credit-scoring") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if purpose:
        headers["Charter-Purpose"] = purpose
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


CHAT = {"model": "credit-prod", "messages": [{"role": "user", "content": "score 42"}]}


def _entries(container: Container) -> list[dict[str, Any]]:
    with container.uow(write=False) as uow:
        rows = uow.session.scalars(select(AuditEntryRow).where(AuditEntryRow.action.like("inference.%")))
        return [json.loads(r.body) for r in rows]


def _entry(container: Container, decision_id: str) -> dict[str, Any]:
    found = [e for e in _entries(container) if e["details"]["decision_id"] == decision_id]
    assert len(found) == 1, decision_id
    return found[0]


def test_allowed_call_is_forwarded_audited_and_keeps_the_key(world: tuple[World, Gateway, str, str]) -> None:
    w, _, key, _ = world
    r = _post(w.url, key, CHAT)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "approved"
    decision = r.headers["charter-decision-id"]
    entry = _entry(w.container, decision)
    assert entry["action"] == "inference.allow" and entry["actor"] == "app:loan-portal"
    assert entry["resource"] == "deployment:credit-prod" and entry["details"]["license_id"] == "lic_test"
    assert entry["details"]["purpose"] == "credit-scoring" and "tools" not in entry["details"]
    assert set(entry["digests"]) == {"request", "response"}
    assert all(v.startswith("hmac-sha256:") for v in entry["digests"].values())
    assert "score 42" not in json.dumps(entry)
    forwarded = w.upstream.seen_headers[-1]
    assert "authorization" not in forwarded and "charter-purpose" not in forwarded


def test_denials_name_their_reason_and_are_audited(world: tuple[World, Gateway, str, str]) -> None:
    w, gw, key, other = world
    url = w.url  # type: ignore[attr-defined]
    tools = {**CHAT, "tools": [{"type": "function", "function": {"name": "send_email"}}]}
    ok_tools = {**CHAT, "tools": [{"type": "function", "function": {"name": "lookup_customer"}}]}
    cases = [
        (_post(url, key, tools), 403, "tool_not_in_scope"),
        (_post(url, key, CHAT, purpose="marketing"), 403, "purpose_not_in_scope"),
        (_post(url, key, CHAT, purpose=None), 403, "purpose_not_in_scope"),
        (_post(url, other, CHAT), 403, "caller_not_in_scope"),
    ]
    # Calls that name no known deployment with a valid key are refused and counted, not audited one by one.
    unaudited = [
        (_post(url, "chk_0000000000_nope", CHAT), 401, "invalid_api_key"),
        (_post(url, key, {**CHAT, "model": "ghost"}), 404, "deployment_not_found"),
        (_post(url, key, {**CHAT, "model": "credit-raw"}), 404, "deployment_not_found"),
    ]
    for resp, status, code in unaudited:
        assert resp.status_code == status and resp.json()["code"] == code, resp.text
        assert "charter-decision-id" not in resp.headers
    assert gw.refusals.counts == {"invalid_api_key": 1, "deployment_not_found": 2}
    for resp, status, code in cases:
        assert resp.status_code == status, (code, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == code
        entry = _entry(w.container, resp.headers["charter-decision-id"])
        assert entry["action"] == "inference.deny" and entry["details"]["reason"] == code
        if code == "tool_not_in_scope":
            assert entry["details"]["tools"] == ["send_email"] and entry["details"]["purpose"] == "credit-scoring"
    assert _post(url, key, ok_tools).status_code == 200
    w.change(state="suspended")
    r = _post(url, key, CHAT)
    assert r.status_code == 403 and r.json()["code"] == "license_suspended" and r.json()["license_id"] == "lic_test"
    w.change(state="revoked")
    assert _post(url, key, CHAT).json()["code"] == "license_revoked"
    w.change(state="active", exp=time.time() - 1)
    assert _post(url, key, CHAT).json()["code"] == "license_expired"
    w.grant = replace(w.grant, license_id="other")
    w.version += 1
    w.deps = {**w.deps, "credit-prod": replace(w.deps["credit-prod"], digest="sha256:" + "cd" * 32)}
    w.settle()
    assert _post(url, key, CHAT).json()["code"] == "no_license"


def test_streaming_passes_chunks_through_and_audits_before_the_end(world: tuple[World, Gateway, str, str]) -> None:
    w, _, key, _ = world
    url = w.url  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}
    started = time.monotonic()
    arrivals: list[float] = []
    chunks: list[bytes] = []
    with httpx.stream("POST", url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        decision = r.headers["charter-decision-id"]
        for chunk in r.iter_raw():
            arrivals.append(time.monotonic() - started)
            chunks.append(chunk)
    body = b"".join(chunks)
    assert body.count(b"data: ") == 6 and body.endswith(b"data: [DONE]\n\n")
    # The upstream sleeps 0.2 s before each of its chunks: passed through, they arrive spread over at least that
    # long (load can only spread them more); buffered, they would arrive together.
    assert arrivals[-1] - arrivals[0] > 0.6
    entry = _entry(w.container, decision)
    assert entry["action"] == "inference.allow" and entry["details"]["stream"] is True


def test_plain_http_route_rate_limit_upstream_down_models_and_metrics(
    world: tuple[World, Gateway, str, str],
) -> None:
    w, gw, key, other = world
    url = w.url  # type: ignore[attr-defined]
    h = {"Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}
    r = httpx.post(url + "/gw/credit-raw/predict?x=1", content=b'{"features":[1,2]}', headers=h)
    assert r.status_code == 200 and r.json() == {
        "method": "POST",
        "path": "/anything/predict",
        "query": "x=1",
        "body": '{"features":[1,2]}',
    }
    r = httpx.post(url + "/v1/chat/completions", json={**CHAT, "model": "dead"}, headers=h)
    assert r.status_code == 502 and r.json()["code"] == "upstream_unavailable"
    assert _entry(w.container, r.headers["charter-decision-id"])["action"] == "inference.error"
    w.deps = {**w.deps, "credit-prod": replace(w.deps["credit-prod"], rate_limit_rps=0.001, rate_burst=2)}
    w.version += 1
    w.settle()
    codes = [_post(url, key, CHAT).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]  # a burst of two, then one call per 1000 s
    models = httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {key}"}).json()
    assert [m["id"] for m in models["data"]] == ["credit-prod", "dead"]
    assert httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {other}"}).json()["data"] == []
    assert httpx.get(url + "/metrics").status_code == 401
    assert httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    reader = user(w.container, "prom", "auditor")
    with w.container.uow() as uow:
        prom = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=reader.ref)).key
    metrics = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {prom}"}).text
    assert 'charter_gateway_requests_total{decision="allow",deployment="credit-prod"}' in metrics
    assert 'charter_gateway_denials_total{reason="rate_limited"}' in metrics
    assert "charter_gateway_request_seconds_bucket" in metrics


def test_unwritable_audit_log_refuses_with_503(world: tuple[World, Gateway, str, str]) -> None:
    w, _, key, _ = world
    with w.container.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_entries RENAME TO audit_entries_away"))
    try:
        r = _post(w.url, key, CHAT)  # type: ignore[attr-defined]
        assert r.status_code == 503 and r.json()["code"] == "audit_unavailable"
        calls = w.upstream.calls
        r = _post(w.url, key, CHAT, purpose="marketing")  # type: ignore[attr-defined]
        assert r.status_code == 503  # a refusal is not answered without its entry either
        assert w.upstream.calls == calls
    finally:
        with w.container.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_entries_away RENAME TO audit_entries"))
    assert _post(w.url, key, CHAT).status_code == 200  # type: ignore[attr-defined]


def test_degraded_index_serves_within_grace_and_marks_entries(world: tuple[World, Gateway, str, str]) -> None:
    w, gw, key, _ = world

    def broken() -> int:
        raise ConnectionError("database unreachable")

    w.index._probe = broken
    deadline = time.monotonic() + 10
    while w.index.degraded_since(time.time()) is None:  # the index noticed: a condition, not a sleep
        assert time.monotonic() < deadline, "the index never noticed the broken probe"
        time.sleep(0.01)
    r = _post(w.url, key, CHAT)  # type: ignore[attr-defined]
    assert r.status_code == 200
    entry = _entry(w.container, r.headers["charter-decision-id"])
    assert entry["outcome"] == "degraded" and entry["details"]["degraded"] is True
    w.grant = replace(w.grant, risk_tier="high")
    w.index.snapshot = replace(w.index.snapshot, grants={(DIGEST, "production"): (w.grant,)})
    r = _post(w.url, key, CHAT)  # type: ignore[attr-defined]
    assert r.status_code == 503 and r.json()["code"] == "license_status_unavailable"


class GatedWriter:
    """The real group-commit writer behind a gate the test opens: shows what the client sees before durability."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.waiting = threading.Event()

    async def append(self, event: Any, *, fence: int | None = None) -> int:
        self.waiting.set()
        await asyncio.to_thread(self.gate.wait, 10)
        seq: int = await self.inner.append(event, fence=fence)
        return seq


def test_stream_end_is_released_only_after_the_audit_entry(world: tuple[World, Gateway, str, str]) -> None:
    w, gw, key, _ = world
    gated = GatedWriter(gw.audit)
    gw.audit = gated
    url = w.url  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}
    received: list[bytes] = []
    ended = threading.Event()

    def client() -> None:
        body = {**CHAT, "stream": True}
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, headers=headers, timeout=20) as r:
            for chunk in r.iter_raw():
                received.append(chunk)
        ended.set()

    thread = threading.Thread(target=client)
    thread.start()
    assert gated.waiting.wait(10)  # the upstream finished; the entry is on its way
    deadline = time.monotonic() + 10
    while b"".join(received).count(b"data: ") < 5:  # every token reaches the client while the entry waits
        assert time.monotonic() < deadline, b"".join(received)
        time.sleep(0.01)
    seen = b"".join(received)
    assert seen.count(b"data: ") == 5 and b"[DONE]" not in seen  # every token, but not the end
    assert not ended.is_set()
    gated.gate.set()
    thread.join(10)
    assert ended.is_set() and b"".join(received).endswith(b"data: [DONE]\n\n")


def test_capture_hook_sees_allowed_json_calls_after_the_response(world: tuple[World, Gateway, str, str]) -> None:
    w, gw, key, _ = world
    seen: list[tuple[str, Any, Any]] = []
    done = threading.Event()

    async def capture(dep: Deployment, request: Any, response: Any) -> None:
        seen.append((dep.name, request, response))
        done.set()

    gw.capture = capture
    assert _post(w.url, key, CHAT).status_code == 200  # type: ignore[attr-defined]
    assert _post(w.url, key, CHAT, purpose="marketing").status_code == 403  # type: ignore[attr-defined]
    assert done.wait(5)
    # A later allowed call's capture arrives after anything the refused call could have produced (one loop).
    done.clear()
    assert _post(w.url, key, CHAT).status_code == 200  # type: ignore[attr-defined]
    assert done.wait(5)
    assert len(seen) == 2
    name, request, response = seen[0]
    assert name == "credit-prod" and request["messages"][0]["content"] == "score 42"
    assert response["choices"][0]["message"]["content"] == "approved"


def _post_gated(w: World, gw: Gateway, key: str, change: dict[str, Any]) -> httpx.Response:
    """A call whose audit entry waits until the license changed (`change`): the upstream already answered."""
    gated = GatedWriter(gw.audit)
    gw.audit = gated
    out: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: out.append(_post(w.url, key, CHAT)))  # type: ignore[attr-defined]
    thread.start()
    assert gated.waiting.wait(10)
    w.change(**change)  # commits version + 1 and lets the index notice it
    gated.gate.set()
    thread.join(10)
    gw.audit = gated.inner
    return out[0]


def test_call_allowed_before_a_revocation_is_refused_when_its_entry_would_follow_it(
    world: tuple[World, Gateway, str, str],
) -> None:
    w, gw, key, _ = world
    before = len(_entries(w.container))
    r = _post_gated(w, gw, key, {"state": "revoked"})
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "license_revoked" and "withheld" in r.json()["detail"]
    assert "approved" not in r.text
    new = _entries(w.container)[before:]
    assert [e["action"] for e in new] == ["inference.deny"]  # the allow was never written
    assert new[0]["details"]["decision_id"] == r.headers["charter-decision-id"]


def test_call_allowed_across_an_unrelated_license_change_is_decided_again_and_served(
    world: tuple[World, Gateway, str, str],
) -> None:
    w, gw, key, _ = world
    before = len(_entries(w.container))
    r = _post_gated(w, gw, key, {"callers": w.grant.callers | {"app:other"}})
    assert r.status_code == 200, r.text
    new = _entries(w.container)[before:]
    assert [e["action"] for e in new] == ["inference.allow"]
