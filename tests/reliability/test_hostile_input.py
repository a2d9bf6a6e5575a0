"""Hostile bodies and files: oversize, deeply nested, invalid UTF-8, compression bombs, traversal, broken files.

Each is refused with a 4xx problem (or a CharterError naming the file) in bounded time, and the process keeps
serving: never a 5xx, never a hang, never a write outside where it belongs.
"""

from __future__ import annotations

import gzip
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.core.errors import CharterError
from charter.monitoring.files import schema_of
from charter.server import Dispatcher
from tests.reliability import stack
from tests.support.db import env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.server import cli

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

PROBLEM = "application/problem+json"
DEEP = 10_000


def deep(n: int = DEEP) -> bytes:
    return b"[" * n + b"]" * n


@pytest.fixture
def world(container: Container, admin_key: str) -> tuple[TestClient, str, Container]:
    app_key = stack.add_app(container)
    stack.license_system(container, "credit", "minimal", SYSTEM_ACTOR, {})
    return TestClient(Dispatcher(container), headers=stack.bearer(admin_key)), app_key, container


def _refused(r: Any, *statuses: int) -> None:
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith(PROBLEM), r.headers


@SQLITE
def test_api_bodies(world: tuple[TestClient, str, Container]) -> None:
    client, _, c = world
    limit = c.settings.max_body_bytes
    big = b'{"name": "' + b"a" * (limit + 10) + b'"}'
    _refused(client.post("/api/v1/systems", content=big, headers={"content-type": "application/json"}), 413)

    def chunks() -> Any:  # no Content-Length: the limit applies while streaming
        for _ in range(limit // 65536 + 2):
            yield b"a" * 65536

    _refused(client.post("/api/v1/teams", content=chunks(), headers={"content-type": "application/json"}), 413)
    started = time.monotonic()
    _refused(client.post("/api/v1/systems", content=deep(), headers={"content-type": "application/json"}), 400, 422)
    bad_utf8 = b'{"name": "\xff\xfe\xfa"}'
    _refused(client.post("/api/v1/teams", content=bad_utf8, headers={"content-type": "application/json"}), 400, 422)
    _refused(
        client.post("/api/v1/teams", content=b"\x00" * 100, headers={"content-type": "application/json"}), 400, 422
    )
    _refused(client.post("/api/v1/teams", json={"name": "../../etc/passwd"}), 422)
    _refused(client.post("/api/v1/systems", json={"name": "a" * 10_000, "purpose": "x"}), 422)
    _refused(client.get("/api/v1/systems/" + "%2e%2e%2f" * 50 + "etc%2fpasswd"), 404)
    assert time.monotonic() - started < 30
    assert client.get("/api/v1/whoami").status_code == 200  # still serving


@SQLITE
def test_monitoring_uploads_bombs_and_oversize(world: tuple[TestClient, str, Container]) -> None:
    client, _, _ = world
    url = "/api/v1/monitoring/systems/credit/versions/1.0/windows"
    bomb = gzip.compress(b"\x20" * (300 << 20), 9)  # 300 MiB of spaces in ~300 KiB
    assert len(bomb) < 1 << 20
    started = time.monotonic()
    r = client.post(url, content=bomb, headers={"content-type": "application/json", "content-encoding": "gzip"})
    _refused(r, 413)
    _refused(client.post(url, content=b"\x1f\x8b" + b"\x00" * 64, headers={"content-encoding": "gzip"}), 422)
    _refused(client.post(url, content=b"{}", headers={"content-encoding": "br"}), 422)
    _refused(client.post(url, content=deep(), headers={"content-type": "application/json"}), 422)
    _refused(client.post(url, content=b'{"rows": "\xff"}', headers={"content-type": "application/json"}), 422)
    assert time.monotonic() - started < 60


@SQLITE
def test_gateway_bodies(world: tuple[TestClient, str, Container]) -> None:
    client, app_key, _ = world
    headers = {**stack.bearer(app_key), "Charter-Purpose": stack.PURPOSE, "content-type": "application/json"}
    with FakeUpstream() as upstream, client:
        body = {"name": "credit", "model": "credit@1.0", "upstream": upstream.url}
        assert client.post("/api/v1/deployments", json=body).status_code == 201
        _wait_for_deployment(client, app_key)
        reached = upstream.calls
        for payload, status in (
            (deep(), 400),
            (b'{"model": "credit", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400),
            (b"not json at all", 400),
            (b'{"model": ["credit"], "messages": []}', 400),
        ):
            r = client.post("/v1/chat/completions", content=payload, headers=headers)
            _refused(r, status)
            # A body that names no deployment is not an inference: counted for the periodic refusal summary
            # (docs/gateway.md), never an entry of its own, so no decision id to look up.
            assert "charter-decision-id" not in r.headers
            assert r.json()["code"] == "invalid_request"
        huge = b'{"model": "credit", "messages": [{"role": "user", "content": "' + b"a" * (33 << 20) + b'"}]}'
        _refused(client.post("/v1/chat/completions", content=huge, headers=headers), 413)
        ok = client.post("/v1/chat/completions", json={"model": "credit", "messages": []}, headers=headers)
        assert ok.status_code == 200, ok.text
        assert upstream.calls == reached + 1  # nothing hostile reached the model


def _wait_for_deployment(client: TestClient, app_key: str) -> None:
    headers = {**stack.bearer(app_key), "Charter-Purpose": stack.PURPOSE}
    deadline = time.monotonic() + 15
    while client.post("/v1/chat/completions", json={"model": "credit"}, headers=headers).status_code == 404:
        assert time.monotonic() < deadline, "deployment never reached the gateway"
        time.sleep(0.05)


@SQLITE
def test_audit_proof_of_an_entry_beyond_the_log_is_404(world: tuple[TestClient, str, Container]) -> None:
    client, _, _ = world
    size = client.get("/api/v1/audit/checkpoints/latest").json()["size"]
    r = client.get(f"/api/v1/audit/entries/{size + 1000}/proof")
    _refused(r, 404)  # not "503: retry in a second": no retry will make it exist


@SQLITE
def test_openapi_documents_the_problem_bodies_it_sends(world: tuple[TestClient, str, Container]) -> None:
    client, _, _ = world
    doc = client.get("/api/v1/openapi.json").json()
    wrong = [
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if "422" in op.get("responses", {}) and PROBLEM not in op["responses"]["422"].get("content", {})
    ]
    assert not wrong, f"422 documented as something other than {PROBLEM}: {wrong[:5]}"
    r = client.post("/api/v1/teams", json={})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)


# --- files ----------------------------------------------------------------------------------------------------
def test_broken_csv_and_parquet_files_are_named_not_crashed(tmp_path: Path) -> None:
    table = pa.table({"x": list(range(1000)), "y": [float(i) for i in range(1000)]})
    good = tmp_path / "good.parquet"
    pq.write_table(table, good)
    raw = good.read_bytes()
    cases = {
        "truncated.parquet": raw[: len(raw) // 2],
        "bad-footer.parquet": raw[:-8] + b"\x00\x00\x00\x00PAR1",
        "not-parquet.parquet": b"PAR1" + b"\x00" * 100 + b"PAR1",
        "binary.csv": bytes(range(256)) * 100,
        "one-huge-line.csv": b"a,b\n" + b"9" * (24 << 20),
        "bad-gzip.csv.gz": b"\x1f\x8b\x08\x00" + b"\xff" * 1000,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        started = time.monotonic()
        try:
            schema_of(path)
        except CharterError as exc:
            assert name in exc.message, exc.message  # the error names the file
        else:
            assert name == "binary.csv" or name == "one-huge-line.csv", f"{name} was read as a table"
        assert time.monotonic() - started < 20, name


@SQLITE
def test_evidence_pack_zip_bomb_and_traversal_refused_by_the_cli(container: Container, tmp_path: Path) -> None:
    env = env_for(container.settings)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps({"files": {}}))
        z.writestr("audit/export.jsonl", b"\x00" * (200 << 20))
    traversal = tmp_path / "traversal.zip"
    with zipfile.ZipFile(traversal, "w") as z:
        z.writestr("manifest.json", "{}")
        z.writestr("../../../../tmp/charter-pwned", "owned")
    absolute = tmp_path / "absolute.zip"
    with zipfile.ZipFile(absolute, "w") as z:
        z.writestr("/etc/charter-pwned", "owned")
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"PK\x03\x04" + b"\xff" * 200)
    for pack, extra in ((bomb, ("--max-bytes", str(50 << 20))), (traversal, ()), (absolute, ()), (not_zip, ())):
        r = cli(env, "report", "verify-pack", str(pack), *extra, "--json")
        assert r.returncode != 0, (pack.name, r.stdout)
        out = r.stdout + r.stderr
        assert "Traceback" not in out, out
    assert not Path("/tmp/charter-pwned").exists() and not Path("/etc/charter-pwned").exists()


@SQLITE
def test_integers_beyond_64_bits_are_refused_not_crashed(world: tuple[TestClient, str, Container]) -> None:
    client, _, _ = world
    huge = 2**64
    for url in (
        f"/api/v1/audit/entries/{huge}",
        f"/api/v1/audit/entries/{huge}/proof",
        f"/api/v1/audit/entries/0/proof?size={huge}",
        f"/api/v1/audit/proofs/consistency?first={huge}",
        f"/api/v1/audit/proofs/consistency?first=1&second={huge}",
        f"/api/v1/audit/checkpoints?after={huge}",
        f"/api/v1/audit/entries?cursor={huge}",
    ):
        _refused(client.get(url), 404, 422)
    body = {"name": "big", "model": "credit@1.0", "upstream": "http://127.0.0.1:9", "rate_burst": huge}
    _refused(client.post("/api/v1/deployments", json=body), 422)
    version = {"version": "9.0", "digest": "sha256:" + "9" * 64, "size_bytes": huge}
    _refused(client.post("/api/v1/systems/credit/versions", json=version), 422)
    licenses = client.get("/api/v1/licenses").json()["items"]
    change = {"reason": "x", "expected_version": huge}
    _refused(client.post(f"/api/v1/licenses/{licenses[0]['id']}/suspend", json=change), 409, 422)
