"""Hostile-input campaign against the management API (`/api/v1`), in process, on SQLite and PostgreSQL.

Attacks are rows of `ATTACKS`: a request (method, path, JSON body or raw bytes, whose key) and the refusal expected
(status, problem `code`, the `field` it names). Every refusal must be an RFC 9457 problem body, never a 5xx. To add
an attack, add a row. Behaviours that need a world or more than one request (keys minted by a stolen key, what an app
may see, login timing) are the tests below the table.

The world of the table: the initial admin; `app:portal` (an app, with a key); `eve` (a user with no role); system `0`
with model versions `0@1.0` (assessed) and `0@0`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import KeyCreate, RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.schemas import ModelVersionCreate
from charter.core.clock import utcnow
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.server import Dispatcher
from tests.conftest import bearer
from tests.support.builders import app_key, assessed_model
from tests.support.gateway_fake.world import licensed

API = "/api/v1"
BIG = 2**63 - 1  # the largest 64-bit sequence number / tree size: one past it overflowed the database


@dataclass(frozen=True)
class Attack:
    """One request and the refusal it must get."""

    name: str
    method: str
    path: str
    status: int
    code: str | None = None
    json: Any = None
    raw: bytes | None = None  # sent as is, with Content-Type: application/json, instead of `json`
    key: str = "admin"  # admin, app (app:portal), eve (a user with no role), none
    names: str | None = None  # the field the problem names (`field`, or the first of `errors`)
    extra: dict[str, str] = field(default_factory=dict)


APP_KEY_DENIED = "app_cannot_create_keys"

ATTACKS: list[Attack] = [
    # --- API keys: a stolen key must not mint another that outlives its revocation ---
    Attack("app mints a key for itself", "POST", "/keys", 403, APP_KEY_DENIED, {"principal": "app:portal"}, key="app"),
    Attack("app mints a key for a user", "POST", "/keys", 403, APP_KEY_DENIED, {"principal": "admin"}, key="app"),
    Attack(
        "user mints a key for another", "POST", "/keys", 403, "permission_denied", {"principal": "admin"}, key="eve"
    ),
    Attack(
        "key longer than CHARTER_KEY_MAX_DAYS",
        "POST",
        "/keys",
        422,
        "key_lifetime_too_long",
        {"principal": "eve", "expires_in_days": 366},
        key="eve",
        names="expires_in_days",
    ),
    Attack(
        "key lifetime over the schema's bound",
        "POST",
        "/keys",
        422,
        "validation_failed",
        {"principal": "eve", "expires_in_days": 10**30},
        key="eve",
        names="expires_in_days",
    ),
    # --- integers past 64 bits, and one past the largest (the database's overflow was a 500) ---
    Attack("checkpoints after the largest size", "GET", f"/audit/checkpoints?after={BIG}", 422, names="after"),
    Attack("checkpoints after 2**64", "GET", f"/audit/checkpoints?after={2**64}", 422, names="after"),
    Attack("entries cursor past 64 bits", "GET", f"/audit/entries?cursor={2**64}", 422, names="cursor"),
    Attack("negative cursor", "GET", "/audit/entries?cursor=-1", 422, names="cursor"),
    Attack("page limit of 10**30", "GET", f"/audit/entries?limit={10**30}", 422, names="limit"),
    Attack("entry 2**63 - 1", "GET", f"/audit/entries/{BIG}", 404, "audit_entry_not_found"),
    Attack(
        "rate burst past 32 bits",
        "POST",
        "/deployments",
        422,
        names="rate_burst",
        json={"name": "d", "model": "0@1.0", "upstream": "http://10.0.0.9/", "rate_burst": 2**31},
    ),
    # --- duplicate keys: one body, one meaning (parsers disagree on which repeat wins) ---
    Attack(
        "duplicate principal in a key request",
        "POST",
        "/keys",
        400,
        "duplicate_key",
        raw=b'{"principal": "eve", "principal": "admin"}',
        key="eve",
        names="principal",
    ),
    Attack(
        "duplicate key in a nested object",
        "PATCH",
        "/systems/0/versions/0",
        400,
        "duplicate_key",
        raw=b'{"card": {"license": "mit", "license": "proprietary"}}',
        names="license",
    ),
    Attack(
        "duplicate key without a content type",
        "POST",
        "/keys",
        400,
        "duplicate_key",
        raw=b'{"principal": "eve", "principal": "admin"}',
        key="eve",
        extra={"Content-Type": ""},
    ),
    # --- encodings ---
    Attack("body is not UTF-8", "POST", "/teams", 400, raw=b'{"name": "\xff\xfe"}'),
    Attack("body is not JSON", "POST", "/teams", 422, raw=b"{name: risk"),
    Attack("lone surrogate in a name", "POST", "/teams", 422, raw=b'{"name": "\\ud800"}', names="name"),
    Attack(
        "NaN where a number goes", "POST", "/keys", 422, raw=b'{"principal": "eve", "expires_in_days": NaN}', key="eve"
    ),
    Attack("a JSON document nested 100,000 deep", "POST", "/teams", 400, raw=b"[" * 100_000 + b"]" * 100_000),
    # --- bad ids: unknown, traversal-shaped, oversize, control characters ---
    Attack("unknown license", "GET", "/licenses/lic_nope", 404, "license_not_found"),
    Attack("traversal-shaped license id", "GET", "/licenses/..%2F..%2Fkeys", 404),
    Attack("license id of 10,000 characters", "GET", "/licenses/" + "x" * 10_000, 404, "license_not_found"),
    # --- NUL characters: SQLite kept them, PostgreSQL refused them with a 500 ---
    Attack("NUL in a deployment name", "GET", "/deployments/a%00b", 422, "nul_character"),
    Attack("NUL in a query", "GET", "/licenses?system=a%00b", 422, "nul_character"),
    Attack("NUL in a free-text field", "POST", "/users/eve/disable", 422, "nul_character", {"reason": "gone\u0000"}),
    Attack("NUL in a listed string", "POST", "/licenses", 422, "nul_character", {"callers": [["app:\u0000"]]}),
    Attack("unknown key revoked", "DELETE", "/keys/key_nope", 404, "key_not_found"),
    Attack("unknown model version", "GET", "/systems/0/versions/9.9", 404),
    # --- nulls where a value is required (schemathesis: a 500) ---
    Attack(
        "model version patched with a null card",
        "PATCH",
        "/systems/0/versions/0",
        422,
        "validation_failed",
        {"card": None, "format": "", "framework": "", "license": "", "uri": ""},
        names="card",
    ),
]


@pytest.fixture
def keys(container: Container, admin_key: str) -> dict[str, str]:
    with container.uow() as uow:
        auth_service.add_user(uow, SYSTEM_ACTOR, UserCreate(name="eve"))
    with container.uow() as uow:
        eve = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="eve")).key
    assessed_model(container, "0")  # system `0`, version `0@1.0`
    with container.uow() as uow:
        catalog.register_model_version(
            uow, SYSTEM_ACTOR, "0", ModelVersionCreate(version="0", digest="sha256:" + "0" * 64, size_bytes=1)
        )
    return {"admin": admin_key, "app": app_key(container, "portal"), "eve": eve, "none": ""}


@pytest.fixture
def api(container: Container) -> Any:
    with TestClient(Dispatcher(container), raise_server_exceptions=False) as c:
        yield c


def _send(api: TestClient, attack: Attack, key: str) -> Any:
    headers = bearer(key) if key else {}
    if attack.raw is not None:
        headers["Content-Type"] = "application/json"
        return api.request(attack.method, API + attack.path, content=attack.raw, headers=headers | attack.extra)
    body = {"json": attack.json} if attack.json is not None else {}
    return api.request(attack.method, API + attack.path, headers=headers | attack.extra, **body)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_attack(api: TestClient, keys: dict[str, str], attack: Attack) -> None:
    r = _send(api, attack, keys[attack.key])
    assert r.status_code == attack.status, (r.status_code, r.text[:400])
    assert r.status_code < 500
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json", r.text[:400]
        doc = r.json()
        if attack.code is not None:
            assert doc["code"] == attack.code, doc
        if attack.names is not None:
            named = doc.get("field") or (doc.get("errors") or [{}])[0].get("field")
            assert named == attack.names, doc


# --- keys -------------------------------------------------------------------------------------------------------


def test_a_stolen_app_key_mints_nothing_that_outlives_its_revocation(
    api: TestClient, keys: dict[str, str], container: Container
) -> None:
    """The issue's reproduction: the app's key could create a key for its own principal with no expiry."""
    r = api.post(f"{API}/keys", json={"principal": "app:portal", "expires_in_days": None}, headers=bearer(keys["app"]))
    assert r.status_code == 403 and r.json()["code"] == "app_cannot_create_keys", r.text
    assert "charter key create app:portal" in r.json()["detail"]
    mine = api.get(f"{API}/keys", headers=bearer(keys["app"])).json()["items"]
    assert len(mine) == 1  # only the key an admin made
    assert api.delete(f"{API}/keys/{mine[0]['id']}", headers=bearer(keys["app"])).status_code == 200
    assert api.get(f"{API}/whoami", headers=bearer(keys["app"])).status_code == 401


def test_keys_for_others_need_principal_manage(api: TestClient, keys: dict[str, str]) -> None:
    r = api.post(f"{API}/keys", json={"principal": "app:portal"}, headers=bearer(keys["eve"]))
    assert r.status_code == 403 and r.json()["details"]["permission"] == "principal.manage", r.text
    r = api.post(f"{API}/keys", json={"principal": "app:portal"}, headers=bearer(keys["admin"]))
    assert r.status_code == 201, r.text
    r = api.post(f"{API}/keys", json={"principal": "eve"}, headers=bearer(keys["eve"]))
    assert r.status_code == 201, r.text  # your own


def test_every_key_expires_within_the_maximum(api: TestClient, keys: dict[str, str], container: Container) -> None:
    top = container.settings.key_max_days
    assert top == 365
    for asked, days in ((None, top), (top, top), (30, 30)):
        before = utcnow()
        r = api.post(f"{API}/keys", json={"principal": "eve", "expires_in_days": asked}, headers=bearer(keys["eve"]))
        assert r.status_code == 201, r.text
        expires = r.json()["expires_at"]
        assert expires is not None, f"asked {asked}: a key that never expires"
        at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        assert before + timedelta(days=days) - timedelta(minutes=1) <= at <= utcnow() + timedelta(days=days)


def test_the_maximum_is_a_setting(container: Container, keys: dict[str, str]) -> None:
    narrow = container.settings.model_copy(update={"key_max_days": 7})
    container.settings = narrow
    with TestClient(Dispatcher(container), raise_server_exceptions=False) as api:
        r = api.post(f"{API}/keys", json={"principal": "eve", "expires_in_days": 8}, headers=bearer(keys["eve"]))
        assert r.status_code == 422 and r.json()["field"] == "expires_in_days" and "7 days" in r.json()["detail"]
        r = api.post(f"{API}/keys", json={"principal": "eve", "expires_in_days": None}, headers=bearer(keys["eve"]))
        assert r.status_code == 201 and r.json()["expires_at"] is not None


# --- model versions ---------------------------------------------------------------------------------------------


def test_blank_strings_clear_a_version_field_and_the_card_is_kept(api: TestClient, keys: dict[str, str]) -> None:
    url = f"{API}/systems/0/versions/0"
    r = api.patch(url, json={"uri": "s3://m/0", "framework": "onnx", "card": {"a": 1}}, headers=bearer(keys["admin"]))
    assert r.status_code == 200, r.text
    r = api.patch(url, json={"format": "", "framework": " ", "license": "", "uri": ""}, headers=bearer(keys["admin"]))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["uri"], doc["framework"], doc["format"], doc["license"], doc["card"]) == (
        None,
        None,
        None,
        None,
        {"a": 1},
    )
    r = api.patch(url, json={"card": {}}, headers=bearer(keys["admin"]))
    assert r.status_code == 200 and r.json()["card"] == {}


# --- what an app may see ----------------------------------------------------------------------------------------


def test_an_app_sees_only_the_deployments_and_licenses_it_is_a_caller_of(container: Container, admin_key: str) -> None:
    """The issue: the app role read every deployment's upstream URL and every license. Now an app sees the licenses
    that name it (any state) and the deployments of those licenses' model digest and environment; any other answers
    404 as if it did not exist. A role beside the app role (a viewer grant) reads as that role does."""
    mine = licensed(container)  # credit@1.0 in production, caller app:loan-portal
    theirs, _ = assessed_model(container, "chat")
    other_key = app_key(container, "other")
    body = {"model": theirs, "env": "production", "purposes": ["support"], "callers": ["app:other"], "days": 30}
    with container.uow() as uow:
        other_license = licenses.request(uow, SYSTEM_ACTOR, LicenseCreate.model_validate(body)).id
    for name, model, env in (
        ("credit-prod", mine.model, "production"),
        ("credit-staging", mine.model, "staging"),  # the same model where its license does not reach
        ("chat-prod", theirs, "production"),
    ):
        create = DeploymentCreate(name=name, model=model, env=env, upstream=f"http://10.0.0.9/{name}")
        with container.uow() as uow:
            deployments.add(uow, SYSTEM_ACTOR, create, allow=container.settings.upstream_allowlist)
    with TestClient(Dispatcher(container), raise_server_exceptions=False) as api:
        app = bearer(mine.app_key)
        listed = api.get(f"{API}/deployments", headers=app).json()["items"]
        assert [d["name"] for d in listed] == ["credit-prod"]
        assert "chat-prod" not in str(listed) and "10.0.0.9/chat" not in str(listed)
        assert api.get(f"{API}/deployments/credit-prod", headers=app).status_code == 200
        for name in ("chat-prod", "credit-staging", "no-such-deployment"):
            r = api.get(f"{API}/deployments/{name}", headers=app)
            assert r.status_code == 404 and r.json()["code"] == "deployment_not_found", (name, r.text)
            assert "10.0.0.9" not in r.text

        assert [lic["id"] for lic in api.get(f"{API}/licenses", headers=app).json()["items"]] == [mine.license_id]
        for path in ("", "/status", "/signoffs", "/token"):
            assert api.get(f"{API}/licenses/{mine.license_id}{path}", headers=app).status_code == 200, path
            r = api.get(f"{API}/licenses/{other_license}{path}", headers=app)
            assert r.status_code == 404 and r.json()["code"] == "license_not_found", (path, r.text)
            assert r.json()["detail"] == api.get(f"{API}/licenses/lic_nope{path}", headers=app).json()[
                "detail"
            ].replace("lic_nope", other_license)
        tasks = api.get(f"{API}/reaudits", headers=app).json()["items"]
        assert {t["license"] for t in tasks} <= {mine.license_id}
        r = api.get(f"{API}/licenses/check", params={"model": theirs, "env": "production"}, headers=app)
        assert r.status_code == 200 and other_license not in r.text, r.text

        # the other app sees its own, the admin everything
        assert [d["name"] for d in api.get(f"{API}/deployments", headers=bearer(other_key)).json()["items"]] == [
            "chat-prod"
        ]
        everything = api.get(f"{API}/deployments", headers=bearer(admin_key)).json()["items"]
        assert len(everything) == 3
        # an app that also holds a reader role reads as that role
        with container.uow() as uow:
            auth_service.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal="app:loan-portal", role="viewer"))
        assert len(api.get(f"{API}/deployments", headers=app).json()["items"]) == 3
        assert api.get(f"{API}/licenses/{other_license}", headers=app).status_code == 200
