"""Attacks on license metadata, crafted from a real installation's token, JWKS and status lists.

Each forged or replayed artifact is refused with its own reason: by the library verifier (`verify_license`), by
`charter license verify` (a few, through the CLI), by the SDK's offline verifier (a replayed status list must not
resurrect a suspended license), and by the gateway (a deployment swapped to another artifact digest is not licensed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.schemas import ModelVersionCreate
from charter.core.clock import utcnow
from charter.core.signing import SigningKey
from charter.deployments.model import Request
from charter.gateway.handler import Gateway
from charter.guard import OfflineVerifier
from charter.licenses import jose, service, statuslist, tokens
from charter.licenses.issuer import current_status_list
from charter.licenses.jose import KeySet, VerifyError
from charter.licenses.model import StateAction
from charter.licenses.runtime import issuer_for
from charter.licenses.schemas import StateChange
from charter.licenses.verify import verify_license
from charter.server import Dispatcher
from tests.reliability import stack
from tests.support.db import env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.server import cli

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h, p, _ = token.split(".")
    return json.loads(jose.b64url_decode(h)), json.loads(jose.b64url_decode(p))


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes] | None) -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + (b64(sign(head.encode())) if sign else "")


class Install:
    """One licensed system in a real data dir, and everything an attacker can read from the outside."""

    def __init__(self, c: Container) -> None:
        self.c = c
        self.app_key = stack.add_app(c)
        self.lic = stack.license_system(c, "credit", "minimal", SYSTEM_ACTOR, {})
        self.issuer = issuer_for(c)
        with c.uow(write=False) as uow:
            self.token = service.token(uow, SYSTEM_ACTOR, self.lic.license_id, self.issuer).token
        self.jwks = jose.jwks(c.keys.license)
        self.keys = KeySet.from_jwks(self.jwks)
        self.status_v1 = current_status_list(c.uow, self.issuer)

    def change(self, verb: str) -> str:
        with self.c.uow() as uow:
            service.change_state(
                uow, SYSTEM_ACTOR, self.lic.license_id, StateAction(verb), StateChange(reason=f"test {verb}")
            )
        return current_status_list(self.c.uow, self.issuer)


@pytest.fixture
def install(container: Container) -> Install:
    return Install(container)


def reason(token: str, keys: KeySet, **kw: Any) -> str:
    with pytest.raises(VerifyError) as err:
        verify_license(token, keys, now=kw.pop("now", int(time.time())), **kw)
    return err.value.code


def test_every_forgery_is_refused_with_its_reason(install: Install) -> None:
    i = install
    now = int(time.time())
    header, claims = parts(i.token)
    assert verify_license(i.token, i.keys, now=now, digest=i.lic.digest, status_list=i.status_v1).status == "valid"
    attacker = SigningKey(Ed25519PrivateKey.generate())
    public_x = i.jwks["keys"][0]["x"]
    public_raw = jose.b64url_decode(public_x)
    cases: dict[str, tuple[str, str]] = {
        # a token signed by a key that is not in the JWKS, under its own kid or under the real one
        "unknown key": (jose.sign(attacker, tokens.LICENSE_TYP, claims), "unknown_key"),
        "real kid, attacker key": (forge(header, claims, attacker.sign), "bad_signature"),
        "attacker key embedded as jwk": (
            forge({**header, "kid": attacker.thumbprint, "jwk": attacker.public_jwk()}, claims, attacker.sign),
            "unknown_key",
        ),
        # alg confusion: HMAC with the published public key as the secret, and no signature at all
        "HS256 with the public key (raw)": (
            forge(
                {**header, "alg": "HS256"},
                claims,
                lambda m: hmac.new(public_raw, m, hashlib.sha256).digest(),
            ),
            "alg_not_allowed",
        ),
        "HS256 with the public key (JWK x)": (
            forge(
                {**header, "alg": "HS256"},
                claims,
                lambda m: hmac.new(public_x.encode(), m, hashlib.sha256).digest(),
            ),
            "alg_not_allowed",
        ),
        "alg none, signature kept": (forge({**header, "alg": "none"}, claims, lambda _m: b"x" * 64), "alg_not_allowed"),
        "alg None": (forge({**header, "alg": "None"}, claims, lambda _m: b"x"), "alg_not_allowed"),
        "alg none, empty signature": (forge({**header, "alg": "none"}, claims, None), "malformed"),
        "alg missing": (forge({k: v for k, v in header.items() if k != "alg"}, claims, i.c.keys.license.sign), ""),
        # the real signature over changed claims (scope widened, expiry pushed, digest swapped)
        "scope widened": (_resign_payload(i.token, {**claims, "scope": {**claims["scope"], "env": "*"}}), ""),
        "expiry pushed": (_resign_payload(i.token, {**claims, "exp": claims["exp"] + 10**8}), "bad_signature"),
        "status list passed as a license": (i.status_v1, "wrong_type"),
    }
    cases["alg missing"] = (cases["alg missing"][0], "alg_not_allowed")
    cases["scope widened"] = (cases["scope widened"][0], "bad_signature")
    got = {name: reason(tok, i.keys) for name, (tok, _) in cases.items()}
    assert got == {name: want for name, (_, want) in cases.items()}

    # digest swap: the token is for the licensed artifact only
    swapped = "sha256:" + hashlib.sha256(b"a different model file").hexdigest()
    assert reason(i.token, i.keys, digest=swapped) == "digest_mismatch"
    # expired license: its own expiry never gets grace, with or without a status list
    assert reason(i.token, i.keys, now=claims["exp"] + 1) == "expired"
    assert reason(i.token, i.keys, now=claims["exp"] + 1, status_list=i.status_v1) == "expired"


def _resign_payload(token: str, claims: dict[str, Any]) -> str:
    """Keep the genuine header and signature, change the payload (what a MITM can do without the key)."""
    h, _, s = token.split(".")
    return f"{h}.{b64(json.dumps(claims).encode())}.{s}"


def test_status_list_replay_expiry_and_forgery(install: Install) -> None:
    i = install
    now = int(time.time())
    v1 = statuslist.verify(i.status_v1, i.keys, now=now)
    suspended = i.change("suspend")
    v2 = statuslist.verify(suspended, i.keys, now=now)
    assert v2.version > v1.version
    assert reason(i.token, i.keys, status_list=suspended) == "suspended"
    # the replayed older list (license still valid in it) is refused once a newer version was seen
    assert reason(i.token, i.keys, status_list=i.status_v1, min_version=v2.version) == "status_list_rollback"
    # an expired list is stale, even though its signature is fine
    assert reason(i.token, i.keys, status_list=suspended, now=v2.exp) == "status_list_stale"
    # a list signed by another key, and one whose bitmap was edited under the real signature
    attacker = SigningKey(Ed25519PrivateKey.generate())
    header, doc = parts(suspended)
    cleared = {**doc, "status_list": {"bits": 2, "lst": statuslist.encode({})}, "version": doc["version"] + 100}
    assert reason(i.token, i.keys, status_list=forge(header, cleared, attacker.sign)) == "bad_signature"
    assert reason(i.token, i.keys, status_list=_resign_payload(suspended, cleared)) == "bad_signature"
    # a list for another issuer's URI (signed by the real key: e.g. a second Charter install sharing keys)
    other = statuslist.sign(
        i.c.keys.license,
        statuslist.claims(
            issuer="https://elsewhere.example",
            uri="https://elsewhere.example/.well-known/charter/status-list",
            version=doc["version"] + 1,
            issued_at=utcnow(),
            ttl_s=300,
            values={},
            audit_size=None,
            audit_root=None,
        ),
    )
    assert reason(i.token, i.keys, status_list=other) == "status_list_invalid"
    # a status list older than its TTL, freshly re-served: stale by its own exp
    old = statuslist.sign(
        i.c.keys.license,
        statuslist.claims(
            issuer=i.issuer.url,
            uri=i.issuer.status_uri,
            version=doc["version"] + 1,
            issued_at=utcnow() - timedelta(hours=1),
            ttl_s=300,
            values={},
            audit_size=None,
            audit_root=None,
        ),
    )
    assert reason(i.token, i.keys, status_list=old) == "status_list_stale"


def test_sdk_offline_verifier_keeps_the_newest_status_under_replay(install: Install) -> None:
    i = install
    served = [i.status_v1]
    clock = [time.time()]
    verifier = OfflineVerifier(
        i.token, i.jwks, lambda: served[-1], env="production", digest=i.lic.digest, refresh_s=0.0, grace_s=60,
        clock=lambda: clock[0],
    )  # fmt: skip
    req = Request(stack.APP, stack.PURPOSE)
    assert verifier.decide(req).allowed
    served.append(i.change("suspend"))
    clock[0] += 1
    denied = verifier.decide(req)
    assert not denied.allowed and denied.reason == "license_suspended"
    served.append(i.status_v1)  # the attacker replays the list from before the suspension
    clock[0] += 1
    replayed = verifier.decide(req)
    assert not replayed.allowed and replayed.reason == "license_suspended"
    assert verifier.last_error is not None and "rollback" in verifier.last_error
    # the newest list expires and nothing fresh arrives: grace for this minimal-risk license, then refusal
    clock[0] = statuslist.verify(served[1], i.keys, now=int(clock[0])).exp + 1.0
    assert verifier.decide(req).reason == "license_suspended"  # still known suspended: never served in grace


def test_cli_refuses_forgeries_offline(install: Install, tmp_path: Path) -> None:
    i = install
    env = env_for(i.c.settings)
    (tmp_path / "jwks.json").write_text(json.dumps(i.jwks))
    (tmp_path / "good.jwt").write_text(i.token)
    suspended = i.change("suspend")
    (tmp_path / "v1.jwt").write_text(i.status_v1)
    (tmp_path / "v2.jwt").write_text(suspended)
    header, claims = parts(i.token)
    public_raw = jose.b64url_decode(i.jwks["keys"][0]["x"])
    hs = forge({**header, "alg": "HS256"}, claims, lambda m: hmac.new(public_raw, m, hashlib.sha256).digest())
    (tmp_path / "hs256.jwt").write_text(hs)
    state = tmp_path / "seen.json"
    jwks = ["--jwks", str(tmp_path / "jwks.json")]

    def verify(*args: str) -> tuple[int, dict[str, Any]]:
        r = cli(env, "license", "verify", *args, *jwks, "--json")
        return r.returncode, json.loads(r.stdout or r.stderr or "{}")

    code, doc = verify(str(tmp_path / "good.jwt"), "--status-url", str(tmp_path / "v2.jwt"), "--state-file", str(state))
    assert code != 0 and doc["code"] == "suspended"
    code, doc = verify(str(tmp_path / "good.jwt"), "--status-url", str(tmp_path / "v1.jwt"), "--state-file", str(state))
    assert code != 0 and doc["code"] == "status_list_rollback"  # the state file remembered v2
    code, doc = verify(str(tmp_path / "hs256.jwt"))
    assert code != 0 and doc["code"] == "alg_not_allowed"
    code, doc = verify(str(tmp_path / "good.jwt"), "--digest", "sha256:" + "00" * 32)
    assert code != 0 and doc["code"] == "digest_mismatch"


def test_gateway_refuses_a_deployment_swapped_to_another_artifact(container: Container, admin_key: str) -> None:
    app_key = stack.add_app(container)
    lic = stack.license_system(container, "credit", "minimal", SYSTEM_ACTOR, {})
    swapped = "sha256:" + hashlib.sha256(b"weights with a backdoor").hexdigest()
    with container.uow() as uow:
        catalog.register_model_version(
            uow, SYSTEM_ACTOR, "credit", ModelVersionCreate(version="1.0-swapped", digest=swapped, size_bytes=1)
        )
    app = Dispatcher(container)
    with FakeUpstream() as upstream, TestClient(app, headers=stack.bearer(admin_key)) as client:
        for name, model in (("real", lic.model), ("swapped", "credit@1.0-swapped")):
            body = {"name": name, "model": model, "upstream": upstream.url}
            assert client.post("/api/v1/deployments", json=body).status_code == 201
        # the licensed version's digest cannot be edited in place: it is not a field of an update, and it is locked
        r = client.patch("/api/v1/systems/credit/versions/1.0", json={"digest": swapped})
        assert r.status_code == 422, r.text
        gw = app.gateway
        assert isinstance(gw, Gateway)
        deadline = time.monotonic() + 10
        while "swapped" not in gw.index.snapshot.deployments:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        headers = {**stack.bearer(app_key), "Charter-Purpose": stack.PURPOSE}
        ok = client.post("/v1/chat/completions", json=_chat("real"), headers=headers)
        assert ok.status_code == 200, ok.text
        bad = client.post("/v1/chat/completions", json=_chat("swapped"), headers=headers)
        assert bad.status_code == 403 and bad.json()["code"] == "no_license", bad.text
        assert upstream.calls == 1  # the swapped artifact was never reached


def _chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}
