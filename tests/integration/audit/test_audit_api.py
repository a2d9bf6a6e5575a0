"""The audit API and public endpoints: filters, paging, proofs that verify, exports that verify, permissions."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from charter.api.routes.audit import wire
from charter.audit import service as audit_service
from charter.audit.export import verify_export
from charter.audit.merkle import leaf_hash
from charter.audit.note import Verifier, verify_checkpoint
from charter.audit.proofs import verify_consistency, verify_inclusion
from charter.bootstrap import Container
from charter.server import Dispatcher
from tests.conftest import MakeUser, bearer


def b(text: str) -> bytes:
    return base64.b64decode(text)


@pytest.fixture
def api(container: Container, admin_key: str) -> Iterator[TestClient]:
    wire(container)
    with TestClient(Dispatcher(container), headers=bearer(admin_key)) as c:
        for name in ("risk", "ops", "legal"):
            assert c.post("/api/v1/teams", json={"name": name}).status_code == 201
        assert c.post("/api/v1/users", json={"name": "alice", "team": "risk"}).status_code == 201
        yield c


def test_entries_filters_and_paging(api: TestClient) -> None:
    everything = api.get("/api/v1/audit/entries", params={"order": "asc"}).json()["items"]
    assert [e["seq"] for e in everything] == list(range(len(everything)))
    assert [e["action"] for e in everything[1:4]] == ["team.create"] * 3
    assert all(leaf_hash(e["body"].encode()) == b(e["leaf_hash"]) for e in everything)
    teams = api.get("/api/v1/audit/entries", params={"action": "team.*"}).json()["items"]
    assert [e["resource"] for e in teams] == ["team:legal", "team:ops", "team:risk"]
    mine = api.get("/api/v1/audit/entries", params={"actor": "user:admin", "resource": "user:alice"}).json()
    assert [e["action"] for e in mine["items"]] == ["user.create"]
    page1 = api.get("/api/v1/audit/entries", params={"limit": 2}).json()
    page2 = api.get("/api/v1/audit/entries", params={"limit": 2, "cursor": page1["next"]}).json()
    assert [e["seq"] for e in page1["items"] + page2["items"]] == [4, 3, 2, 1]
    ts = everything[2]["ts"]
    window = api.get("/api/v1/audit/entries", params={"since": ts, "until": "2999-01-01T00:00:00"}).json()
    assert all(e["ts"] >= ts for e in window["items"]) and window["items"]
    assert api.get("/api/v1/audit/entries/9999").status_code == 404
    assert api.get("/api/v1/audit/entries", params={"limit": 0}).status_code == 422


def test_public_checkpoint_and_key_need_no_account(api: TestClient) -> None:
    api.get("/api/v1/audit/checkpoints/latest")
    anon = TestClient(api.app)
    key = anon.get("/.well-known/charter/audit-key")
    note = anon.get("/.well-known/charter/checkpoint")
    assert key.status_code == note.status_code == 200
    assert note.headers["content-type"].startswith("text/plain")
    cp = verify_checkpoint(note.text, key.text.strip())
    assert cp.origin == "charter.local/audit" and cp.size >= 5


def test_inclusion_and_consistency_proofs_verify(api: TestClient) -> None:
    vkey = Verifier.parse(api.get("/.well-known/charter/audit-key").text)
    first = api.get("/api/v1/audit/checkpoints/latest").json()
    api.post("/api/v1/users", json={"name": "bob"})
    for seq in range(first["size"] + 1):
        doc = api.get(f"/api/v1/audit/entries/{seq}/proof").json()
        cp = verify_checkpoint(doc["checkpoint"], vkey)
        assert (cp.size, base64.b64encode(cp.root).decode()) == (doc["size"], doc["root"])
        leaf = leaf_hash(doc["entry"]["body"].encode())
        assert verify_inclusion(seq, doc["size"], leaf, [b(p) for p in doc["proof"]], cp.root)
    older = api.get(f"/api/v1/audit/entries/1/proof?size={first['size']}").json()
    assert verify_inclusion(1, first["size"], b(older["leaf_hash"]), [b(p) for p in older["proof"]], b(first["root"]))
    proof = api.get("/api/v1/audit/proofs/consistency", params={"first": first["size"]}).json()
    latest = verify_checkpoint(proof["checkpoint"], vkey)
    assert latest.size == proof["second"] > first["size"]
    assert verify_consistency(first["size"], latest.size, b(first["root"]), latest.root, [b(p) for p in proof["proof"]])
    assert api.get("/api/v1/audit/proofs/consistency", params={"first": 10**6}).status_code == 422
    beyond = api.get(f"/api/v1/audit/entries/{latest.size + 100}/proof")
    assert beyond.status_code == 404 and beyond.json()["code"] == "audit_entry_not_found"
    listing = api.get("/api/v1/audit/checkpoints").json()["items"]
    assert [c["size"] for c in listing] == sorted(c["size"] for c in listing)


def test_exports_verify_offline(api: TestClient) -> None:
    vkey = Verifier.parse(api.get("/.well-known/charter/audit-key").text)
    full = api.get("/api/v1/audit/export")
    assert full.status_code == 200 and full.headers["content-type"].startswith("application/x-ndjson")
    report = verify_export(io.BytesIO(full.content), vkey, deep=True)
    assert report.ok and report.entries == 5, report.problems
    entries = api.get("/api/v1/audit/entries", params={"order": "asc"}).json()["items"]
    part = api.get("/api/v1/audit/export", params={"since": entries[2]["ts"], "until": entries[3]["ts"]}).content
    sub = verify_export(io.BytesIO(part), vkey)
    assert sub.ok and sub.first <= 2 and sub.size <= 4, sub.problems
    csv = api.get("/api/v1/audit/export", params={"format": "csv"})
    lines = csv.text.splitlines()
    assert lines[0].startswith("seq,ts,actor,action") and len(lines) == 6
    tampered = full.content.replace(b"team:ops", b"team:opz")
    assert not verify_export(io.BytesIO(tampered), vkey).ok


def test_only_global_audit_readers(api: TestClient, make_user: MakeUser) -> None:
    _, auditor = make_user("auditor")
    _, viewer = make_user("viewer")
    _, scoped = make_user(("reviewer", "legal"), scope="team:risk")
    assert api.get("/api/v1/audit/entries", headers=bearer(auditor)).status_code == 200
    assert api.get("/api/v1/audit/export", headers=bearer(auditor)).status_code == 200
    assert api.get("/api/v1/audit/entries", headers=bearer(viewer)).status_code == 403
    r = api.get("/api/v1/audit/entries/0/proof", headers=bearer(scoped))
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


def test_dashboard_helpers(api: TestClient, container: Container) -> None:
    api.get("/api/v1/audit/checkpoints/latest")
    with container.uow(write=False) as uow:
        latest = audit_service.latest_checkpoint(uow)
        proof = audit_service.inclusion_proof(uow, 2)
        beyond = audit_service.inclusion_proof(uow, 10**6)
    assert latest is not None and latest["verified"] and latest["size"] >= 5
    assert proof is not None and proof["verified"] and proof["tree_size"] == latest["size"]
    assert beyond is None
