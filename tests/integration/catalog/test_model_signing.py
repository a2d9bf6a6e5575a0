"""OpenSSF model signing: a bundle made with the `model-signing` library's own signer is verified by the server over
the registered files; the version records the signer, the assessment evidence exposes it to policies, and a tampered,
extra or missing file, another key or a broken bundle is refused (422, the file or field named, nothing written)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from starlette.testclient import TestClient

from charter.bootstrap import Container
from charter.catalog import artifacts, service
from charter.catalog.tables import ModelVersionRow
from charter.policies.engine import evaluate
from charter.policies.loader import load_policy
from tests.integration.catalog.test_catalog_api import high_risk_answers

API = "/api/v1"
model_signing = pytest.importorskip("model_signing")


def _keypair(root: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = root / f"{name}.pem", root / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture
def signed_model(tmp_path: Path) -> tuple[Path, Path, Path]:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(b"\x08\x07" + b"weights" * 100)
    (model / "config.json").write_text('{"threshold": 0.5}')
    private, public = _keypair(tmp_path, "signer")
    signature = tmp_path / "model.sig"
    model_signing.signing.Config().use_elliptic_key_signer(private_key=private).sign(model, signature)
    return model, signature, public


def _body(model: Path, signature: Path, public: Path, version: str = "1.0") -> dict[str, Any]:
    info = artifacts.inspect(model)
    return {
        "version": version,
        "digest": info.digest,
        "size_bytes": info.size,
        "files": [f.to_dict() for f in info.files],
        "signature": {"bundle": signature.read_text(), "public_key": public.read_text()},
    }


def _system(client: TestClient) -> None:
    assert client.post(f"{API}/teams", json={"name": "risk"}).status_code == 201
    r = client.post(
        f"{API}/systems",
        json={"name": "credit", "purpose": "Consumer creditworthiness", "team": "risk", "answers": high_risk_answers()},
    )
    assert r.status_code == 201, r.text


def _versions(container: Container) -> int:
    with container.uow(write=False) as uow:
        return int(uow.session.scalar(select(func.count(ModelVersionRow.id))) or 0)


def test_signed_version_records_the_signer(
    client: TestClient, container: Container, signed_model: tuple[Path, Path, Path]
) -> None:
    model, signature, public = signed_model
    _system(client)
    r = client.post(f"{API}/systems/credit/versions", json=_body(model, signature, public))
    assert r.status_code == 201, r.text
    sig = r.json()["signature"]
    assert sig["verified"] is True and sig["method"] == "key"
    assert sig["signer"].startswith("sha256:") and sig["bundle_sha256"].startswith("sha256:")
    assert client.get(f"{API}/systems/credit/versions/1.0").json()["signature"]["signer"] == sig["signer"]

    # Policies see it: a rule that requires a verified signature for high-risk systems.
    with container.uow(write=False) as uow:
        evidence = service.evidence_context(uow, "credit@1.0")
    assert evidence["model"]["signature"] == {"verified": True, "signer": sig["signer"], "method": "key"}
    policy = load_policy(POLICY, source="signed.yaml")
    assert evaluate([policy], evidence).verdict.value == "pass"
    unsigned = {**evidence, "model": {**evidence["model"], "signature": {"verified": False}}}
    assert evaluate([policy], unsigned).verdict.value == "fail"


POLICY = """
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: signed-high-risk}
rules:
  - id: SIGNED-HIGH-RISK
    title: High-risk models carry a verified OpenSSF model signature
    severity: blocker
    when: system.risk_tier == 'high'
    check: model.signature.verified
    controls: [EUAIA-ART15, NIST-RMF-MEASURE-2.7]
    remediation: Sign the model with model_signing and register it with --signature and --signer-key.
"""


@pytest.mark.parametrize(
    ("tamper", "field", "names"),
    [
        ("one byte", "signature", "model.onnx"),
        ("extra file", "signature", "notes.txt"),
        ("missing file", "signature", "config.json"),
        ("other key", "signature.public_key", None),
        ("broken bundle", "signature.bundle", None),
        ("not a key", "signature.public_key", None),
    ],
)
def test_tampering_is_refused_with_the_file_named(
    client: TestClient,
    container: Container,
    signed_model: tuple[Path, Path, Path],
    tmp_path: Path,
    tamper: str,
    field: str,
    names: str | None,
) -> None:
    model, signature, public = signed_model
    _system(client)
    if tamper == "one byte":
        data = bytearray((model / "model.onnx").read_bytes())
        data[10] ^= 1
        (model / "model.onnx").write_bytes(bytes(data))
    elif tamper == "extra file":
        (model / "notes.txt").write_text("not signed")
    elif tamper == "missing file":
        (model / "config.json").unlink()
    elif tamper == "other key":
        _, public = _keypair(tmp_path, "other")
    elif tamper == "broken bundle":
        signature.write_text('{"mediaType": "nonsense"}')
    elif tamper == "not a key":
        public.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    r = client.post(f"{API}/systems/credit/versions", json=_body(model, signature, public))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == field, problem
    if names is not None:
        assert names in problem["detail"] and problem["code"] == "signature_mismatch"
    assert _versions(container) == 0  # nothing half-written


def test_license_token_carries_the_model_signer(container: Container) -> None:
    import json

    from charter.auth.model import SYSTEM_ACTOR
    from charter.licenses import jose
    from charter.licenses import service as licenses
    from charter.licenses.runtime import issuer_for
    from tests.support.gateway_fake.world import licensed

    world = licensed(container)

    def claims() -> dict[str, Any]:
        with container.uow(write=False) as uow:
            token = licenses.token(uow, SYSTEM_ACTOR, world.license_id, issuer_for(container)).token
        return dict(json.loads(jose.b64url_decode(token.split(".")[1])))

    assert "model_signer" not in claims()  # registered unsigned
    signer = "sha256:" + "5" * 64
    with container.uow() as uow:
        row = uow.session.scalars(select(ModelVersionRow).where(ModelVersionRow.digest == world.digest)).one()
        row.signature = {"verified": True, "method": "key", "signer": signer, "bundle_sha256": "sha256:" + "6" * 64}
        uow.commit()
    assert claims()["model_signer"] == signer
