"""Evidence packs: built over the API from real data, verified offline (also by `charter audit verify
--from-export` and `charter report verify-pack`), and refused when tampered with, unsafe or signed by another key."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from charter.audit.note import verifier_key
from charter.core.signing import SigningKey
from charter.licenses import jose
from charter.reports.packcheck import verify_pack
from charter.reports.zipsafe import Limits, ZipUnsafe
from tests.conftest import MakeUser, bearer
from tests.integration.reports.world import ReportWorld

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the rest runs on every backend


def charter(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI, offline (no server, no data dir)."""
    env = {"PATH": "/usr/bin:/bin", "CHARTER_HOME": str(cwd / "no-home"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "charter", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def pack(world: ReportWorld, client: TestClient) -> bytes:
    ref = world.documented_system()
    world.license(ref)
    world.bare_system("chat-helper")  # other systems' later entries must not break the export
    r = client.get("/api/v1/reports/systems/credit-scoring/pack")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    world.bare_system("later-system")
    return r.content


def rewrite(data: bytes, change: Callable[[str, bytes], bytes | None], *, fix_manifest: bool = False) -> bytes:
    """A copy of the zip with members changed (None drops one), optionally with a manifest that matches."""
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            new = change(info.filename, zf.read(info))
            if new is not None:
                members[info.filename] = new
    if fix_manifest:
        manifest = json.loads(members["MANIFEST.json"])
        manifest["files"] = {
            n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
            for n, b in members.items()
            if n != "MANIFEST.json"
        }
        members["MANIFEST.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return out.getvalue()


def check(data: bytes, **kwargs: object) -> list[str]:
    return verify_pack(io.BytesIO(data), **kwargs).problems  # type: ignore[arg-type]


def test_round_trip_verifies_offline(pack: bytes, tmp_path: Path) -> None:
    verdict = verify_pack(io.BytesIO(pack))
    assert verdict.ok, verdict.problems
    assert verdict.system == "credit-scoring" and verdict.anchor_seq is not None
    assert verdict.audit is not None and verdict.audit["ok"] and verdict.audit["entries"] > 10
    assert [t["valid"] for t in verdict.tokens] == [True]
    with zipfile.ZipFile(io.BytesIO(pack)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("MANIFEST.json"))
        assert set(manifest["files"]) == names - {"MANIFEST.json"}
        for name, entry in manifest["files"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == entry["sha256"]
        assert {"report.html", "report.json", "README.txt", "licenses/jwks.json", "audit/export.jsonl",
                "audit/checkpoint.txt", "audit/verifier-key.txt"} <= names  # fmt: skip
        assert any(n.startswith("assessments/asm_") for n in names)
        assert any(n.endswith(".jwt") for n in names)
        assert b"Annex IV point 1" in zf.read("report.html")
        zf.extractall(tmp_path / "pack")
    # the auditor's other route: the audit CLI verifies the export alone with the pack's key and checkpoint
    d = tmp_path / "pack"
    export, key, note = (str(d / "audit" / n) for n in ("export.jsonl", "verifier-key.txt", "checkpoint.txt"))
    r = charter("audit", "verify", "--from-export", export, "--key", key, "--checkpoint", note, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "✓" in r.stdout
    (tmp_path / "pack.zip").write_bytes(pack)
    r = charter("report", "verify-pack", "pack.zip", "--json", cwd=tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["ok"] is True


@SQLITE
def test_pinned_keys(pack: bytes, container: object) -> None:
    with zipfile.ZipFile(io.BytesIO(pack)) as zf:
        key = zf.read("audit/verifier-key.txt").decode().strip()
        jwks = json.loads(zf.read("licenses/jwks.json"))
    assert verify_pack(io.BytesIO(pack), trusted_key=key, trusted_jwks=jwks).ok
    other = SigningKey(Ed25519PrivateKey.generate())
    wrong_key = verifier_key(key.split("+")[0], other.public_raw)
    problems = check(pack, trusted_key=wrong_key)
    assert any("differs from the trusted key" in p for p in problems)
    assert any(p.startswith("audit/export.jsonl") for p in problems)
    problems = check(pack, trusted_jwks=jose.jwks(other))
    assert any(p.startswith("licenses/lic_") for p in problems)


def test_tampered_file_is_refused(pack: bytes) -> None:
    def edit(name: str, data: bytes) -> bytes:
        return data.replace(b"ACME Bank", b"ACME Bank (reviewed)") if name == "report.html" else data

    problems = check(rewrite(pack, edit))
    assert problems[0].startswith("report.html: sha256") and "differs from the manifest" in problems[0], problems
    assert all(p.startswith("report.html: ") for p in problems), problems
    # a forger who also rewrites the manifest is caught by the signed report.pack entry in the log
    problems = check(rewrite(pack, edit, fix_manifest=True))
    assert any("report.html: differs from the digest in signed audit entry" in p for p in problems), problems


@SQLITE
def test_removed_and_added_files_are_refused(pack: bytes) -> None:
    def drop_assessment(name: str, data: bytes) -> bytes | None:
        return None if name.startswith("assessments/") else data

    problems = check(rewrite(pack, drop_assessment, fix_manifest=True))
    assert any("recorded in audit entry" in p and "missing from the pack" in p for p in problems), problems

    def add(name: str, data: bytes) -> bytes:
        return data

    added = io.BytesIO(rewrite(pack, add))
    with zipfile.ZipFile(added, "a") as zf:
        zf.writestr("assessments/asm_forged.json", b"{}")
    problems = check(added.getvalue())
    assert any(p == "assessments/asm_forged.json: in the pack but not in the manifest" for p in problems), problems
    problems = check(rewrite(added.getvalue(), add, fix_manifest=True))
    assert any("asm_forged.json: not recorded in audit entry" in p for p in problems), problems


@SQLITE
def test_tampered_audit_entry_and_token_are_refused(pack: bytes) -> None:
    def edit_log(name: str, data: bytes) -> bytes:
        return data.replace(b'"actor":"user:rev-legal"', b'"actor":"user:mallory"') if name.endswith(".jsonl") else data

    problems = check(rewrite(pack, edit_log, fix_manifest=True))
    assert any(p.startswith("audit/export.jsonl: ") for p in problems), problems

    def edit_token(name: str, data: bytes) -> bytes:
        if not name.endswith(".jwt"):
            return data
        header, claims, sig = data.decode().strip().split(".")
        doc = json.loads(jose.b64url_decode(claims))
        doc["scope"]["env"] = "everywhere"
        return f"{header}.{jose.b64url(json.dumps(doc).encode())}.{sig}".encode()

    problems = check(rewrite(pack, edit_token, fix_manifest=True))
    assert any(p.startswith("licenses/lic_") and ".jwt" in p for p in problems), problems


@SQLITE
def test_verify_pack_cli_exit_codes(pack: bytes, tmp_path: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(rewrite(pack, lambda n, d: d + b" " if n == "report.json" else d))
    r = charter("report", "verify-pack", "bad.zip", cwd=tmp_path)
    assert r.returncode == 1 and "✗" in r.stdout and "report.json" in r.stdout
    (tmp_path / "evil.zip").write_bytes(zip_of({"../escape.txt": b"x", "MANIFEST.json": b"{}"}))
    r = charter("report", "verify-pack", "evil.zip", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("error: pack_unsafe: "), r.stderr
    (tmp_path / "not.zip").write_bytes(b"hello")
    r = charter("report", "verify-pack", "not.zip", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: pack_malformed: "), r.stderr


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "audit/../../x", "/abs/path", "C:/windows/x", "dir\\..\\x", "a//b", "./a"]
)
def test_path_traversal_members_are_refused(name: str) -> None:
    with pytest.raises(ZipUnsafe, match="member"):
        verify_pack(io.BytesIO(zip_of({"MANIFEST.json": b"{}", name: b"x"})))


def test_zip_bombs_are_refused() -> None:
    bomb = zip_of({"MANIFEST.json": b"{}", "report.html": b"\0" * (40 << 20)})
    assert len(bomb) < 200_000
    with pytest.raises(ZipUnsafe, match="zip bomb"):
        verify_pack(io.BytesIO(bomb))
    many = zip_of({f"f{i}.txt": b"x" for i in range(50)})
    with pytest.raises(ZipUnsafe, match="members exceed"):
        verify_pack(io.BytesIO(many), limits=Limits(max_members=20))
    big = zip_of({"MANIFEST.json": b"{}", "a.bin": bytes(range(256)) * 8192})
    with pytest.raises(ZipUnsafe, match="expand"):
        verify_pack(io.BytesIO(big), limits=Limits(max_total_bytes=1 << 20))


def test_symlinks_and_duplicates_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        link = zipfile.ZipInfo("MANIFEST.json")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ZipUnsafe, match="symbolic link"):
        verify_pack(io.BytesIO(out.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("MANIFEST.json", b"{}")
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("MANIFEST.json", b"{}")
    with pytest.raises(ZipUnsafe, match="twice"):
        verify_pack(io.BytesIO(out.getvalue()))


@SQLITE
def test_pack_needs_audit_read(pack: bytes, client: TestClient, make_user: MakeUser) -> None:
    _, viewer = make_user("viewer")
    r = client.get("/api/v1/reports/systems/credit-scoring/pack", headers=bearer(viewer))
    assert r.status_code == 403 and "audit.read" in r.json()["detail"]
    _, auditor = make_user("auditor")
    r = client.get("/api/v1/reports/systems/credit-scoring/pack", headers=bearer(auditor))
    assert r.status_code == 200 and verify_pack(io.BytesIO(r.content)).ok
    assert client.get("/api/v1/reports/systems/nope/pack").status_code == 404
