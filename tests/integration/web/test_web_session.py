"""Sign-in, sessions, CSRF and login throttling of the dashboard, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from charter.audit.tables import AuditEntryRow
from charter.auth import authenticate, passwords
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import UserCreate
from charter.auth.tables import PrincipalRow, WebSessionRow
from charter.bootstrap import Container
from charter.core.clock import utcnow
from tests.integration.web.conftest import PASSWORD, Client, login_csrf, page_csrf, sign_in


def _session_cookie(set_cookie: str) -> tuple[str, str]:
    name, _, rest = set_cookie.partition("=")
    return name, rest.split(";", 1)[0]


def test_pages_need_a_session(web: Client) -> None:
    client = web()
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = client.get("/audit?actor=user%3Aadmin")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Faudit%3Factor%3Duser%253Aadmin"
    r = client.get("/audit", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login?next=")


def test_password_login_sets_a_strict_httponly_cookie_and_stores_only_a_hash(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    user("alice", "auditor")
    client = web()
    r = client.post(
        "/login",
        data={
            "csrf": login_csrf(client),
            "mode": "password",
            "username": "alice",
            "password": PASSWORD,
            "next": "/audit",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/audit"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("charter_session="))
    attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attrs
    assert "secure" not in attrs  # plain HTTP on loopback
    _, token = _session_cookie(cookie)
    with container.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(WebSessionRow)))
        assert [row.id_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
        assert token not in {row.csrf_token for row in rows}
        entry = uow.session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(1)).one()
        assert (entry.action, entry.actor, entry.outcome) == ("session.login", "user:alice", "success")
    assert client.get("/audit").status_code == 200


def test_public_host_gets_a_secure_host_prefixed_cookie(web: Client, user: Callable[..., str]) -> None:
    user("bob", "viewer")
    client = web("https://charter.example.com")
    r = client.post(
        "/login", data={"csrf": login_csrf(client), "mode": "password", "username": "bob", "password": PASSWORD}
    )
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if "charter_session=" in c)
    assert cookie.startswith("__Host-charter_session=")
    attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attrs
    assert client.get("/").status_code == 200
    plain = web("http://charter.example.com")
    assert plain.post("/login", data={"mode": "password"}).status_code == 403  # no login CSRF cookie


def test_wrong_password_is_401_and_audited_as_denied(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    user("carol", "viewer")
    client = web()
    r = client.post(
        "/login", data={"csrf": login_csrf(client), "mode": "password", "username": "carol", "password": "nope" * 4}
    )
    assert r.status_code == 401 and "Wrong user name or password." in r.text
    assert not any("charter_session=" in c for c in r.headers.get_list("set-cookie"))
    with container.uow(write=False) as uow:
        entry = uow.session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(1)).one()
        assert (entry.action, entry.resource, entry.outcome) == ("session.login", "user:carol", "denied")


def test_login_requires_the_double_submit_token(web: Client, user: Callable[..., str]) -> None:
    user("dave", "viewer")
    client = web()
    login_csrf(client)
    body = {"mode": "password", "username": "dave", "password": PASSWORD}
    assert client.post("/login", data={**body, "csrf": "forged"}).status_code == 403
    assert client.post("/login", data=body).status_code == 403
    other = web()
    assert other.post("/login", data={**body, "csrf": login_csrf(client)}).status_code == 403


def test_api_key_login_and_app_keys_refused(
    web: Client, admin_key: str, make_user: Callable[..., tuple[str, str]]
) -> None:
    client = web()
    r = client.post("/login", data={"csrf": login_csrf(client), "mode": "key", "api_key": admin_key})
    assert r.status_code == 303
    assert "user:admin" in client.get("/").text
    bad = web()
    r = bad.post("/login", data={"csrf": login_csrf(bad), "mode": "key", "api_key": admin_key[:-3] + "xyz"})
    assert r.status_code == 401 and "not recognised" in r.text
    name, key = make_user("app")
    r = bad.post("/login", data={"csrf": login_csrf(bad), "mode": "key", "api_key": "chk_malformed"})
    assert r.status_code == 401


def test_next_is_never_an_open_redirect(web: Client, user: Callable[..., str]) -> None:
    user("erin", "viewer")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        client = web()
        r = client.post(
            "/login",
            data={
                "csrf": login_csrf(client),
                "mode": "password",
                "username": "erin",
                "password": PASSWORD,
                "next": target,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/", target


def test_every_post_needs_the_session_csrf_token(web: Client, user: Callable[..., str], container: Container) -> None:
    user("frank", "viewer")
    client = sign_in(web(), "frank")
    r = client.post("/logout")
    assert r.status_code == 403 and "csrf_failed" in r.text
    r = client.post("/logout", data={"csrf": "x" * 43})
    assert r.status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    token = client.cookies.get("charter_session")
    r = client.post("/logout", headers={"X-CSRF-Token": page_csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with container.uow(write=False) as uow:
        assert uow.session.scalar(select(WebSessionRow)) is None
    replay = web()
    replay.cookies.set("charter_session", token or "")
    assert replay.get("/").status_code == 303


def test_disabled_principal_loses_its_session_at_once(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    user("gina", "viewer")
    client = sign_in(web(), "gina")
    assert client.get("/").status_code == 200
    with container.uow() as uow:
        uow.session.execute(update(PrincipalRow).where(PrincipalRow.name == "gina").values(disabled=True))
        uow.commit()
    assert client.get("/").status_code == 303


def test_login_is_rate_limited_per_address_and_name(web: Client, user: Callable[..., str]) -> None:
    user("hank", "viewer")
    client = web(login_rate=3)
    for _ in range(3):
        r = client.post(
            "/login", data={"csrf": login_csrf(client), "mode": "password", "username": "hank", "password": "x" * 12}
        )
        assert r.status_code == 401
    r = client.post(
        "/login", data={"csrf": login_csrf(client), "mode": "password", "username": "hank", "password": PASSWORD}
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in r.text


def test_signing_in_again_replaces_the_browser_session(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    user("ivy", "viewer")
    user("jon", "auditor")
    client = sign_in(web(), "ivy")
    first = client.cookies.get("charter_session")
    assert client.get("/login").status_code == 303  # signed in: no form
    with container.uow() as uow:  # the session runs out while the browser keeps its cookie
        uow.session.execute(update(WebSessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
        uow.commit()
    r = client.post(
        "/login", data={"csrf": login_csrf(client), "mode": "password", "username": "jon", "password": PASSWORD}
    )
    assert r.status_code == 303
    with container.uow(write=False) as uow:
        hashes = list(uow.session.scalars(select(WebSessionRow.id_hash)))
    assert hashes and hashlib.sha256((first or "").encode()).hexdigest() not in hashes and len(hashes) == 1
    assert "user:jon" in client.get("/").text


def test_plain_http_on_a_public_host_warns_that_the_cookie_will_be_dropped(web: Client) -> None:
    assert "not reached over HTTPS" in web("http://charter.example.com").get("/login").text
    assert "not reached over HTTPS" not in web("https://charter.example.com").get("/login").text
    assert "not reached over HTTPS" not in web("http://localhost:8400").get("/login").text


def test_disabling_a_user_deletes_their_sessions_and_enabling_does_not_revive_them(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    """The issue: re-enabling a user made their old dashboard sessions (a lost laptop's, say) work again."""
    user("kim", "viewer")
    user("lou", "viewer")
    kept = sign_in(web(), "lou")
    client = sign_in(web(), "kim")
    assert client.get("/").status_code == 200
    with container.uow() as uow:
        auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", "kim", disabled=True, reason="laptop lost")
    with container.uow(write=False) as uow:
        owners = set(uow.session.scalars(select(PrincipalRow.name).join(WebSessionRow)))
    assert owners == {"lou"}  # kim's session row is gone, lou's is not
    with container.uow() as uow:
        auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", "kim", disabled=False)
    assert client.get("/").status_code == 303  # signed out for good: sign in again
    assert kept.get("/").status_code == 200
    assert sign_in(web(), "kim").get("/").status_code == 200
    with container.uow(write=False) as uow:
        entry = uow.session.scalar(select(AuditEntryRow.body).where(AuditEntryRow.action == "user.disable"))
    assert entry is not None and json.loads(bytes(entry))["details"]["sessions_ended"] == 1


def _login(client: TestClient, name: str, password: str) -> float:
    csrf = login_csrf(client)
    started = time.perf_counter()
    r = client.post("/login", data={"csrf": csrf, "mode": "password", "username": name, "password": password})
    took = time.perf_counter() - started
    assert r.status_code == 401
    return took


def test_unknown_names_take_as_long_as_known_ones(
    web: Client, user: Callable[..., str], container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that does not exist (or has no password, or is disabled) is checked against a dummy Argon2 hash, so
    the answer's timing does not tell which names exist (it was ~30 times faster)."""
    user("mia", "viewer")
    with container.uow() as uow:
        auth_service.add_user(uow, SYSTEM_ACTOR, UserCreate(name="ned"))  # no password: API keys only
    user("ola", "viewer")
    with container.uow() as uow:
        auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", "ola", disabled=True, reason="x")
    checked: list[str] = []
    verify = passwords.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(authenticate, "verify_password", counting)
    client = web(login_rate=1000)
    for name in ("mia", "nobody", "ned", "ola"):
        _login(client, name, "wrong password, long enough")
    assert len(checked) == 4 and all(h.startswith("$argon2id$") for h in checked), checked
    # and the time it takes: the fastest of a few tries each, so a busy machine cannot make an unknown name look slow
    known = min(_login(client, "mia", "wrong password, long enough") for _ in range(5))
    unknown = min(_login(client, f"nobody{i}", "wrong password, long enough") for i in range(5))
    assert unknown > known / 3, (known, unknown)
