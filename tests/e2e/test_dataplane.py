"""Charter deciding inside the user's own nginx: a real Debian nginx (unprivileged, `auth_request`) in front of a
model server, asking a real `charter serve` at /authz/nginx.

Licensed calls pass with the decision id upstream; out of scope, suspended and keyless calls are refused by nginx;
with Charter down nginx fails closed; a suspension is effective within a second despite the decision cache; every
decision is an audit entry and the log verifies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from charter import bootstrap
from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.support.db import admin_key, audit_docs, env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.gateway_fake.world import licensed
from tests.support.server import Server, cli, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(NGINX).exists(), reason="Debian's nginx is not installed (make test installs it)"),
]

CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
{server}
}}
"""


DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def docs_server_block() -> str:
    """The nginx `server {}` block of docs/integrations.md: the test runs what the docs show."""
    text = DOCS.read_text()
    block = text.split("```nginx\n", 1)[1].split("```", 1)[0]
    assert "auth_request /_charter;" in block
    return block


class Nginx:
    def __init__(self, root: Path, charter: str, upstream: str) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        server = (
            docs_server_block()
            .replace("127.0.0.1:8080", f"127.0.0.1:{self.port}")
            .replace("http://127.0.0.1:8400", charter)
            .replace("http://127.0.0.1:9000", upstream)
        )
        (root / "nginx.conf").write_text(CONF.format(dir=root, server=server))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.root), "-c", str(self.root / "nginx.conf"), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, (self.root / "error.log").read_text(errors="replace")
            try:
                httpx.get(self.url + "/", timeout=1)
                return self
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _get(url: str, key: str | None, purpose: str | None = "credit-scoring", **headers: str) -> httpx.Response:
    h = dict(headers)
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    if purpose is not None:
        h["Charter-Purpose"] = purpose
    return httpx.get(url + "/models/credit/score?applicant=42", headers=h, timeout=10)


def _authz_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    docs = audit_docs(settings, "inference.%")
    return {d["details"]["decision_id"]: d for d in docs if d["details"].get("via") == "authz:nginx"}


@pytest.fixture
def stack(settings: Settings, initialised: InitResult, tmp_path: Path) -> Iterator[tuple[dict[str, str], Any, str]]:
    env = env_for(settings)
    c = bootstrap.build(settings)
    try:
        world = licensed(c)
    finally:
        c.close()
    with FakeUpstream() as upstream:
        server = Server(env, log=tmp_path / "serve.log").start(timeout=90)
        try:
            env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
            r = cli(env, "deployment", "add", "credit-raw", "--model", world.model, "--env", "production",
                    "--kind", "http", "--upstream", upstream.url + "/anything")  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr
            yield env, (world, upstream, server), world.app_key
        finally:
            server.stop()


def test_nginx_auth_request_decides_and_records(
    stack: tuple[dict[str, str], Any, str], settings: Settings, tmp_path: Path
) -> None:
    env, (world, upstream, server), key = stack
    with Nginx(tmp_path / "nginx", server.url, upstream.url) as nginx:
        deadline = time.monotonic() + 5
        while (resp := _get(nginx.url, key)).status_code != 200:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.05)
        decision = upstream.seen_headers[-1]["charter-decision-id"]
        assert upstream.seen_headers[-1]["charter-license-id"] == world.license_id
        assert "authorization" not in upstream.seen_headers[-1]
        seen = upstream.calls

        assert _get(nginx.url, None).status_code == 401  # keyless
        assert _get(nginx.url, "not-a-key").status_code == 401
        assert _get(nginx.url, key, purpose="marketing").status_code == 403  # purpose out of scope
        assert _get(nginx.url, key, purpose=None).status_code == 403
        assert upstream.calls == seen, "a refused call reached the model server"

        # Cached allows; then a suspension is effective within a second despite the cache.
        for _ in range(5):
            assert _get(nginx.url, key).status_code == 200
        r = cli(env, "license", "suspend", world.license_id, "--reason", "drift above threshold")
        assert r.returncode == 0, r.stdout + r.stderr
        suspended_at = time.monotonic()
        allowed = 6
        while (status := _get(nginx.url, key).status_code) == 200:
            allowed += 1
            assert time.monotonic() - suspended_at < 1.0, "nginx still passes calls on a suspended license"
        assert status == 403

        # Charter down: nginx fails closed (its auth subrequest errors → 500), nothing reaches the model server.
        seen = upstream.calls
        server.stop()
        resp = _get(nginx.url, key)
        assert resp.status_code == 500 and upstream.calls == seen

    entries = _authz_entries(settings)
    assert entries[decision]["action"] == "inference.allow"
    assert entries[decision]["details"]["license_id"] == world.license_id
    assert entries[decision]["details"]["path"] == "/models/credit/score?applicant=42"
    reasons = sorted(e["details"].get("reason", "-") for e in entries.values())
    assert "purpose_not_in_scope" in reasons and "license_suspended" in reasons
    assert sum(1 for e in entries.values() if e["action"] == "inference.allow") == allowed  # cached or not
    verify = cli(env_for(settings), "audit", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _envoy(server: str, path: str, key: str | None, **kw: Any) -> httpx.Response:
    """A check request as Envoy's HTTP ext_authz filter sends it: `path_prefix` + the original path, the original
    method, the allowed headers, and the body only with `with_request_body`."""
    headers = dict(kw.pop("headers", {}))
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return httpx.request(kw.pop("method", "POST"), server + "/authz/envoy" + path, headers=headers, timeout=10, **kw)


def _review(obj: dict[str, Any], uid: str = "0b1d3c5e-0000-4000-8000-000000000001") -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "namespace": "lending",
            "name": "credit",
            "operation": "CREATE",
            "object": obj,
        },
    }


def test_envoy_ext_authz_and_kubernetes_admission_contracts(
    stack: tuple[dict[str, str], Any, str], settings: Settings
) -> None:
    env, (world, upstream, server), key = stack
    purpose = {"charter-purpose": "credit-scoring"}
    deadline = time.monotonic() + 5
    while (resp := _envoy(server.url, "/gw/credit-raw/v1/score", key, headers=purpose)).status_code != 200:
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.05)
    # Envoy: only 200 allows; upstream headers for `allowed_upstream_headers`.
    assert resp.headers["x-charter-license-id"] == world.license_id
    assert resp.headers["x-charter-decision-id"]
    # A header names the deployment when the path does not; MCP's mirrored headers carry the tool.
    headers = {**purpose, "charter-deployment": "credit-raw", "mcp-method": "tools/call"}
    assert _envoy(server.url, "/anything", key, headers={**headers, "mcp-name": "lookup_customer"}).status_code == 200
    denied = _envoy(server.url, "/anything", key, headers={**headers, "mcp-name": "send_email"})
    assert denied.status_code == 403 and denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["code"] == "tool_not_in_scope" and denied.json()["decision_id"]
    # Other statuses go back to the client as they are.
    missing = _envoy(server.url, "/gw/credit-raw/v1/score", None, headers=purpose)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert _envoy(server.url, "/gw/nowhere/v1/score", key, headers=purpose).status_code == 404
    unnamed = _envoy(server.url, "/score", key, headers=purpose)
    assert unnamed.status_code == 400 and unnamed.json()["code"] == "deployment_not_named"
    assert _envoy(server.url, "/gw/credit-raw/v1", key).json()["code"] == "purpose_not_in_scope"
    assert httpx.get(server.url + "/authz/istio", timeout=5).status_code == 404

    # Kubernetes: the model by annotation on the pod template, the environment from the webhook's path.
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "credit", "namespace": "lending"},
        "spec": {"template": {"metadata": {"annotations": {"charter.dev/model-digest": world.digest}}, "spec": {}}},
    }
    auth = {"Authorization": f"Bearer {key}"}
    admit = httpx.post(server.url + "/k8s/admit/production", json=_review(obj), headers=auth, timeout=10)
    assert admit.status_code == 200
    body = admit.json()
    assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == "0b1d3c5e-0000-4000-8000-000000000001" and body["response"]["allowed"] is True
    admitted_as = admit.headers["charter-decision-id"]
    staging = httpx.post(server.url + "/k8s/admit/staging", json=_review(obj, "u2"), headers=auth, timeout=10).json()
    assert staging["response"]["uid"] == "u2" and staging["response"]["allowed"] is False
    assert staging["response"]["status"]["code"] == 403 and "staging" in staging["response"]["status"]["message"]
    keyless = httpx.post(server.url + "/k8s/admit/production", json=_review(obj, "u3"), timeout=10).json()
    assert keyless["response"] == {
        "uid": "u3",
        "allowed": False,
        "status": {"code": 401, "message": keyless["response"]["status"]["message"]},
    }
    junk = httpx.post(server.url + "/k8s/admit/production", content=b"{not json", headers=auth, timeout=10)
    assert junk.status_code == 200 and junk.json()["response"]["allowed"] is False

    # The manifests for this install: one webhook for the licensed environment, params naming the model.
    r = cli(env, "k8s", "manifests", "--namespace", "governance")
    assert r.returncode == 0, r.stdout + r.stderr
    docs = list(yaml.safe_load_all(r.stdout))
    (hook,) = docs[0]["webhooks"]
    assert hook["clientConfig"]["service"] == {
        "namespace": "governance",
        "name": "charter",
        "port": 8400,
        "path": "/k8s/admit/production",
    }
    assert docs[1]["data"] == {world.digest.replace(":", "."): "production"}
    bad = cli(env, "k8s", "manifests", "--webhook-url", "http://charter:8400")
    assert bad.returncode == 2 and "https://" in bad.stderr

    r = cli(env, "license", "suspend", world.license_id, "--reason", "bias above threshold")
    assert r.returncode == 0, r.stdout + r.stderr
    deadline = time.monotonic() + 5
    while True:
        after = httpx.post(server.url + "/k8s/admit/production", json=_review(obj, "u4"), headers=auth, timeout=10)
        if after.json()["response"]["allowed"] is False:
            break
        assert time.monotonic() < deadline, "a suspended license still admits"
    assert "suspended" in after.json()["response"]["status"]["message"]

    docs = audit_docs(settings, "admission.%")
    by_decision = {d["details"]["decision_id"]: d for d in docs}
    assert by_decision[admitted_as]["action"] == "admission.allow"
    assert by_decision[admitted_as]["details"]["licenses"] == [world.license_id]
    assert sorted(d["details"]["uid"] for d in docs if d["action"] == "admission.deny")[:2] == ["u2", "u4"]


def test_envoy_grpc_ext_authz(settings: Settings, initialised: InitResult, tmp_path: Path) -> None:
    """`envoy.service.auth.v3.Authorization/Check` over real gRPC (grpclib client, Envoy's generated messages)."""
    pytest.importorskip("envoy_data_plane")
    import asyncio

    from envoy_data_plane.envoy.service.auth.v3 import (
        AttributeContext,
        AttributeContextHttpRequest,
        AttributeContextRequest,
        AuthorizationAsyncStub,
        CheckRequest,
    )
    from grpclib.client import Channel

    c = bootstrap.build(settings)
    try:
        world = licensed(c)
    finally:
        c.close()
    port = free_port()
    env = {**env_for(settings), "CHARTER_AUTHZ_GRPC_PORT": str(port)}
    with FakeUpstream() as upstream:
        server = Server(env, log=tmp_path / "serve.log").start(timeout=90)
        try:
            admin = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
            r = cli(admin, "deployment", "add", "credit-raw", "--model", world.model, "--env", "production",
                    "--kind", "http", "--upstream", upstream.url + "/anything")  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr

            def check(path: str, headers: dict[str, str]) -> CheckRequest:
                http = AttributeContextHttpRequest(method="POST", path=path, headers=headers, host="models")
                return CheckRequest(attributes=AttributeContext(request=AttributeContextRequest(http=http)))

            async def calls() -> list[object]:
                channel = Channel("127.0.0.1", port)
                try:
                    stub = AuthorizationAsyncStub(channel)
                    base = {":method": "POST", ":path": "/gw/credit-raw/v1/score", "charter-purpose": "credit-scoring"}
                    auth = {"authorization": f"Bearer {world.app_key}"}
                    deadline = time.monotonic() + 5
                    while True:
                        allowed = await stub.check(check("/gw/credit-raw/v1/score", {**base, **auth}), timeout=5)
                        assert allowed.status is not None
                        if allowed.status.code == 0 or time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.05)
                    keyless = await stub.check(check("/gw/credit-raw/v1/score", base), timeout=5)
                    other = {**base, **auth, "charter-purpose": "marketing"}
                    wrong = await stub.check(check("/gw/credit-raw/v1/score", other), timeout=5)
                    return [allowed, keyless, wrong]
                finally:
                    channel.close()

            allowed, keyless, wrong = asyncio.run(calls())
        finally:
            server.stop()
    assert allowed.status.code == 0 and allowed.denied_response is None  # type: ignore[attr-defined]
    ok = {h.header.key: h.header.value for h in allowed.ok_response.headers}  # type: ignore[attr-defined]
    assert ok["x-charter-license-id"] == world.license_id and ok["x-charter-decision-id"]
    assert keyless.status.code == 16 and keyless.denied_response.status.code == 401  # type: ignore[attr-defined]
    assert wrong.status.code == 7 and wrong.denied_response.status.code == 403  # type: ignore[attr-defined]
    assert json.loads(wrong.denied_response.body)["code"] == "purpose_not_in_scope"  # type: ignore[attr-defined]
