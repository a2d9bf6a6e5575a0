"""docs/licenses.md's verifier in another language (Node.js, standard library only) agrees with Charter's."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.core.signing import SigningKey
from charter.licenses import jose, statuslist, tokens

DOC = Path(__file__).resolve().parents[3] / "docs" / "licenses.md"
URI = "http://charter.test/.well-known/charter/status-list"


def _claims(now: datetime, **over: Any) -> dict[str, Any]:
    """A license token's claims for the docs' examples; `over` replaces any argument of `license_claims`."""
    args: dict[str, Any] = {
        "issuer": "http://charter.test",
        "license_id": "lic_doc",
        "token_id": "tok_doc",
        "issued_at": now,
        "not_before": now,
        "expires": now + timedelta(days=1),
        "digest": "sha256:" + "0" * 64,
        "system": "s",
        "version": "1",
        "risk_tier": "high",
        "env": "production",
        "purposes": ["p"],
        "callers": ["app:a"],
        "tools": [],
        "regions": [],
        "conditions_digest": "sha256:" + "1" * 64,
        "status_index": 0,
        "status_uri": URI,
    }
    return tokens.license_claims(**{**args, **over})


def _snippet() -> str:
    m = re.search(r"```js\n(.*?)```", DOC.read_text(), re.S)
    assert m, "docs/licenses.md lost its JavaScript verifier"
    return m.group(1)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(("index", "value", "expected"), [(9, 0, "valid"), (9, 1, "suspended"), (9, 2, "revoked")])
def test_node_verifier_from_the_docs(tmp_path: Path, index: int, value: int, expected: str) -> None:
    key = SigningKey(Ed25519PrivateKey.generate())
    now = datetime.now(UTC)
    claims = _claims(now, not_before=now - timedelta(seconds=5), risk_tier="minimal", status_index=index)
    (tmp_path / "lic.jwt").write_text(tokens.sign_license(key, claims))
    (tmp_path / "jwks.json").write_text(json.dumps(jose.jwks(key)))
    doc = statuslist.claims(
        issuer="http://charter.test",
        uri=URI,
        version=3,
        issued_at=now,
        ttl_s=300,
        values={index: value, 0: 2, 30: 1},
        audit_size=None,
        audit_root=None,
    )
    (tmp_path / "sl.jwt").write_text(statuslist.sign(key, doc))
    (tmp_path / "verify.mjs").write_text(_snippet())
    out = subprocess.run(
        ["node", "verify.mjs", "lic.jwt", "jwks.json", "sl.jwt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "license": "lic_doc",
        "digest": "sha256:" + "0" * 64,
        "status": expected,
        "version": 3,
    }
    forged = tokens.sign_license(SigningKey(Ed25519PrivateKey.generate()), claims)
    (tmp_path / "lic.jwt").write_text(forged)
    bad = subprocess.run(
        ["node", "verify.mjs", "lic.jwt", "jwks.json", "sl.jwt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "unknown_key" in bad.stderr


def test_every_token_claim_is_in_the_claims_table() -> None:
    """A verifier reads the table to know what a token says; a claim Charter emits but the table omits is a gap."""
    claims = _claims(
        datetime.now(UTC),
        model_signer="sha256:" + "2" * 64,
        evidence={"assessment": "asm_x", "digest": "sha256:" + "3" * 64, "computed_by": "server", "self_reported": 0},
        tool_rules=[{"tool": "refund", "kind": "condition", "value": "args.amount <= 500"}],
    )
    section = DOC.read_text().split("## License token", 1)[1].split("\n## ", 1)[0]
    table = {name for cell in re.findall(r"^\| ([^|]+) \|", section, re.M) for name in re.findall(r"`(\w+)`", cell)}
    assert set(claims) <= table, set(claims) - table
