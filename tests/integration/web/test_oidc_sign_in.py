"""Single sign-on without a provider in the loop: the group table, what a sign-in does to users, roles and teams (each
change audited), the ID token checks of the relying party, and the switch that turns password sign-in off.

The full redirect flow against a real OpenID Provider is tests/e2e/test_oidc.py."""

from __future__ import annotations

import dataclasses
import re
import shlex
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from pydantic import ValidationError
from sqlalchemy import select
from starlette.testclient import TestClient

from charter.audit.tables import AuditEntryRow
from charter.auth import oidc
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR, Role
from charter.auth.schemas import RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.core.errors import Unauthenticated
from charter.settings import Settings
from charter.web.app import create
from charter.web.oidc import Flow, Refused, RelyingParty
from tests.integration.web.conftest import login_csrf
from tests.support.db import env_for
from tests.support.server import cli_in_process, free_port

ISSUER = "https://id.example.com"
TABLE = oidc.parse_table(
    {"ml-platform": ["senior-engineer@team:ml", "team:ml"], "risk": ["reviewer(legal)"], "auditors": ["auditor"]}
)


def _who(container: Container, name: str) -> tuple[list[str], list[str]]:
    with container.uow(write=False) as uow:
        [found] = [p for p in auth_service.list_principals(uow, SYSTEM_ACTOR, "user") if p.name == name]
    return sorted(found.roles), found.teams


def _actions(container: Container) -> list[tuple[str, str, str]]:
    with container.uow(write=False) as uow:
        rows = uow.session.execute(select(AuditEntryRow.action, AuditEntryRow.actor, AuditEntryRow.resource))
        return [(a, b, c) for a, b, c in rows.tuples()]


def _sign_in(container: Container, identity: oidc.Identity) -> Any:
    with container.uow() as uow:
        actor = oidc.sign_in(uow, identity, TABLE)
        uow.commit()
    return actor


def test_group_table_entries_are_checked() -> None:
    assert oidc.parse_entry("senior-engineer@team:ml").key == "senior-engineer@team:ml"
    assert oidc.parse_entry("reviewer(legal)").function == "legal"
    assert oidc.parse_entry("team:risk").role is None
    for bad, why in [
        ("wizard", "unknown role 'wizard'"),
        ("reviewer", "needs a function"),
        ("viewer(legal)", "only applies to the reviewer role"),
        ("app", "service accounts"),
        ("viewer@org:x", "must be ROLE"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            oidc.parse_table({"g": [bad]})


def test_settings_refuse_an_unusable_provider_configuration() -> None:
    ok = Settings(oidc_issuer=ISSUER, oidc_client_id="charter", oidc_groups="{ml-platform: senior-engineer@team:ml}")
    assert ok.oidc_group_table == {"ml-platform": ["senior-engineer@team:ml"]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"oidc_issuer": "http://id.example.com", "oidc_client_id": "c"}, "must be https://"),
        ({"oidc_issuer": ISSUER}, "CHARTER_OIDC_CLIENT_ID"),
        ({"oidc_issuer": ISSUER, "oidc_client_id": "c", "oidc_scopes": "email"}, "must include openid"),
        ({"oidc_issuer": ISSUER, "oidc_client_id": "c", "oidc_groups": "[a, b]"}, "must be a mapping"),
        ({"oidc_issuer": ISSUER, "oidc_client_id": "c", "oidc_groups": "{a: [}"}, "not JSON or YAML"),
    ]
    for fields, why in cases:
        with pytest.raises(ValidationError, match=re.escape(why)):
            Settings(**fields)


def test_first_sign_in_creates_the_user_with_the_mapped_roles_and_teams(container: Container) -> None:
    actor = _sign_in(
        container,
        oidc.Identity(ISSUER, "sub-1", "Ana@Example.com", True, "Ana", "Ana.Lopez", ("ml-platform", "staff")),
    )
    assert actor.name == "ana.lopez" and actor.teams == ("ml",)
    assert [g.describe() for g in actor.grants] == ["senior-engineer on team:ml"]
    assert _who(container, "ana.lopez") == (["senior-engineer@team:ml"], ["ml"])
    actions = _actions(container)
    for expected in [
        ("user.create", "system:oidc", "user:ana.lopez"),
        ("team.create", "system:oidc", "team:ml"),
        ("role.grant", "system:oidc", "user:ana.lopez"),
        ("team.join", "system:oidc", "user:ana.lopez"),
    ]:
        assert expected in actions


def test_groups_are_re_evaluated_at_every_sign_in_and_an_admins_grant_stays(container: Container) -> None:
    identity = oidc.Identity(ISSUER, "sub-2", None, False, None, "ben", ("ml-platform",))
    _sign_in(container, identity)
    with container.uow() as uow:  # an admin grants auditor by hand: not the provider's to take away
        auth_service.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal="ben", role="auditor"))
    moved = _sign_in(container, dataclasses.replace(identity, groups=("risk",)))
    assert sorted(g.describe() for g in moved.grants) == ["auditor", "reviewer(legal)"]
    assert _who(container, "ben") == (["auditor", "reviewer(legal)"], [])
    assert ("role.revoke", "system:oidc", "user:ben") in _actions(container)
    assert ("team.leave", "system:oidc", "user:ben") in _actions(container)

    # Out of every mapped group: the provider's roles go; the admin's stays (and still lets ben in).
    left = _sign_in(container, dataclasses.replace(identity, groups=()))
    assert [g.describe() for g in left.grants] == ["auditor"]
    # Back in a group that gives auditor: that is the admin's grant already, and stays the admin's.
    _sign_in(container, dataclasses.replace(identity, groups=("auditors",)))
    again = _sign_in(container, dataclasses.replace(identity, groups=()))
    assert [g.describe() for g in again.grants] == ["auditor"]


def test_a_verified_email_links_an_existing_user_an_unverified_one_does_not(container: Container) -> None:
    with container.uow() as uow:
        auth_service.add_user(uow, SYSTEM_ACTOR, UserCreate(name="carla", email="carla@example.com"))
    stranger = _sign_in(container, oidc.Identity(ISSUER, "sub-x", "carla@example.com", False, None, "carla", ("risk",)))
    assert stranger.name == "carla-2"  # a new user: the provider did not vouch for the address
    linked = _sign_in(container, oidc.Identity(ISSUER, "sub-3", "CARLA@example.com", True, None, "c", ("auditors",)))
    assert linked.name == "carla" and [g.role for g in linked.grants] == [Role.AUDITOR]
    assert ("user.link", "system:oidc", "user:carla") in _actions(container)
    with pytest.raises(Unauthenticated) as refused:  # another subject claiming the same address
        _sign_in(container, oidc.Identity(ISSUER, "sub-4", "carla@example.com", True, None, "c", ("auditors",)))
    assert refused.value.code == "oidc_linked_elsewhere"


def test_no_account_for_unmapped_groups_and_none_for_a_disabled_user(container: Container) -> None:
    with pytest.raises(Unauthenticated) as refused:
        _sign_in(container, oidc.Identity(ISSUER, "sub-5", None, False, None, "dan", ("staff",)))
    assert refused.value.code == "oidc_no_role"
    _sign_in(container, oidc.Identity(ISSUER, "sub-6", None, False, None, "eli", ("auditors",)))
    with container.uow() as uow:
        auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", "eli", disabled=True)
    with pytest.raises(Unauthenticated) as disabled:
        _sign_in(container, oidc.Identity(ISSUER, "sub-6", None, False, None, "eli", ("auditors",)))
    assert disabled.value.code == "principal_disabled"


# --- the relying party's ID token checks -----------------------------------------------------------------------


def _party(secret: str = "s3cret") -> tuple[RelyingParty, RSAKey, dict[str, Any]]:
    settings = Settings(oidc_issuer=ISSUER, oidc_client_id="charter", oidc_client_secret=secret)
    party = RelyingParty(settings)
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    party._jwks = {"keys": [key.as_dict(private=False)]}  # as if fetched from the provider's jwks_uri
    metadata = {"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks", "id_token_signing_alg_values_supported": ["RS256"]}
    return party, key, metadata


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": "charter",
        "sub": "sub-1",
        "iat": now,
        "exp": now + 300,
        "nonce": "the-nonce",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_the_id_token_must_be_signed_current_and_for_this_client_and_sign_in() -> None:
    party, key, metadata = _party()
    good = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), key)
    assert party._verify(metadata, {"id_token": good}, "the-nonce")["sub"] == "sub-1"

    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    cases = {
        "another key": jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), other),
        "expired": jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(exp=int(time.time()) - 600), key),
        "another issuer": jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(iss="https://evil.example"), key),
        "another audience": jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(aud="someone-else"), key),
        "no nonce": jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(nonce=None), key),
        "another nonce": jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(nonce="replayed"), key),
        # "signed" with the client secret: a symmetric algorithm is never accepted for ID tokens
        "HS256": jwt.encode({"alg": "HS256"}, _claims(), OctKey.import_key("s3cret" * 6)),
    }
    for case, token in cases.items():
        with pytest.raises(Refused) as refused:
            party._verify(metadata, {"id_token": token}, "the-nonce")
        assert refused.value.code == "oidc_id_token_invalid" and refused.value.status == 401, case


# --- the dashboard ----------------------------------------------------------------------------------------------


def _dashboard(container: Container, **settings: object) -> TestClient:
    changed = dataclasses.replace(container, settings=container.settings.model_copy(update=settings))
    return TestClient(create(changed), base_url="http://127.0.0.1", follow_redirects=False)


def test_password_sign_in_can_be_turned_off(container: Container, user: Callable[..., str], admin_key: str) -> None:
    user("fay", "viewer")
    with _dashboard(container, password_login=False) as client:
        page = client.get("/login")
        assert 'id="login-password"' not in page.text and 'id="login-key"' in page.text
        data = {"csrf": login_csrf(client), "mode": "password", "username": "fay", "password": "whatever", "next": "/"}
        refused = client.post("/login", data=data)
        assert refused.status_code == 403 and "turned off" in refused.text
        data = {"csrf": login_csrf(client), "mode": "key", "api_key": admin_key, "next": "/"}
        assert client.post("/login", data=data).status_code == 303  # API keys still sign in


def test_an_unreachable_provider_is_a_clear_refusal(container: Container) -> None:
    with _dashboard(container, oidc_issuer="http://127.0.0.1:9", oidc_client_id="charter") as client:
        page = client.get("/login")
        assert "Sign in with 127.0.0.1" in page.text
        r = client.get("/login/oidc")
        assert r.status_code == 503 and "oidc_discovery_failed" in r.text
        r = client.get("/login/oidc/callback", params={"code": "c", "state": "s"})
        assert r.status_code == 400 and "oidc_no_flow" in r.text


def test_the_operations_guide_examples_are_valid_settings() -> None:
    """docs/operations.md's single sign-on example (the exports and the charter.toml table) configures Charter."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "operations.md").read_text()
    section = doc.split("## Single sign-on (OpenID Connect)", 1)[1].split("\n## ", 1)[0]
    shell, toml = (
        re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)[0],
        re.findall(r"^```toml\n(.*?)^```", section, re.S | re.M)[0],
    )
    env: dict[str, str] = {}
    for line in shell.splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == "export", line
        env.update(w.split("=", 1) for w in words[1:])  # type: ignore[misc]
    fields = {k.removeprefix("CHARTER_").lower(): v for k, v in env.items()}
    from_env = Settings(**fields)  # type: ignore[arg-type]
    table = oidc.parse_table(from_env.oidc_group_table)
    assert [e.key for e in table["ml-platform"]] == ["senior-engineer@team:ml", "team:ml"]
    assert from_env.password_login is False and "groups" in from_env.oidc_scopes.split()
    from_toml = Settings(oidc_groups=tomllib.loads(toml)["oidc_groups"])
    assert oidc.parse_table(from_toml.oidc_group_table) == table


def test_serve_refuses_a_group_table_naming_an_unknown_role(settings: Settings, initialised: object) -> None:
    env = {
        **env_for(settings),
        "CHARTER_OIDC_ISSUER": ISSUER,
        "CHARTER_OIDC_CLIENT_ID": "charter",
        "CHARTER_OIDC_GROUPS": "{ml-platform: wizard@team:ml}",
    }
    done = cli_in_process(env, "serve", "--port", str(free_port()))
    assert done.returncode == 2, done
    assert "invalid_setting: CHARTER_OIDC_GROUPS: group 'ml-platform'" in done.stderr
    assert "unknown role 'wizard'" in done.stderr


def test_a_callback_from_another_provider_is_refused_before_the_code_is_redeemed() -> None:
    """RFC 9207 mix-up defence: a callback whose `iss` names another provider never reaches the token endpoint."""
    party, _, _ = _party()
    flow = Flow("the-state", "the-nonce", "v" * 64, "/")  # what `start` kept in the browser's cookie
    with pytest.raises(Refused) as refused:
        party.finish({"code": "c", "state": "the-state", "iss": "https://evil.example"}, flow)
    assert refused.value.status == 400 and refused.value.code == "oidc_issuer_mismatch"
    assert "https://evil.example" in str(refused.value) and ISSUER in str(refused.value)
