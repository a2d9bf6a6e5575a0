"""Access control under adversarial use: scoped grants, separation of duties under concurrency, secrets in logs,
dashboard cookies, CSRF and login throttling — the last three against a real `charter serve` at debug log level.

`tests/integration/test_authz_matrix.py` covers every route × every globally granted role; here the same routes
are checked for grants scoped to one system or one team: they reach that system and no other.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from charter.api.app import api_routes
from charter.api.deps import Authz
from charter.auth import service as auth
from charter.auth.model import ROLE_PERMISSIONS, SYSTEM_ACTOR, Permission, Role
from charter.auth.schemas import RoleGrant, TeamCreate, UserCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.schemas import ModelVersionCreate, SystemCreate
from charter.server import Dispatcher
from charter.settings import Settings
from charter.web.sessions import LOGIN_CSRF_COOKIE
from tests.conftest import MakeUser
from tests.reliability import stack

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
# An evidence pack carries the audit export: it also needs audit.read over the whole log, which no scoped grant gives.
NEEDS_GLOBAL = {"/reports/systems/{name}/pack"}
SCOPED_ROLES = [r for r in Role if r not in (Role.ADMIN, Role.APP)]


def _system(c: Container, name: str, team: str) -> None:
    with c.uow() as uow:
        auth.add_team(uow, SYSTEM_ACTOR, TeamCreate(name=team))
    with c.uow() as uow:
        body = {"name": name, "purpose": "x", "team": team, "answers": stack.ANSWERS["minimal"]}
        catalog.register_system(uow, SYSTEM_ACTOR, SystemCreate.model_validate(body))
    with c.uow() as uow:
        mv = ModelVersionCreate(
            version="1.0", digest="sha256:" + hashlib.sha256(name.encode()).hexdigest(), size_bytes=1
        )
        catalog.register_model_version(uow, SYSTEM_ACTOR, name, mv)


def _system_routes() -> list[tuple[str, str, Permission]]:
    """GET routes about one system (path parameter {name} or {system}) with their permission."""
    out = []
    for route in api_routes():
        assert route.methods is not None  # FastAPI fills in the methods of every APIRoute
        if "GET" not in route.methods or not re.search(r"\{(name|system)\}", route.path):
            continue
        if not route.path.startswith(("/systems/", "/reports/systems/", "/monitoring/systems/")):
            continue
        rules = [d.call for d in route.dependant.dependencies if isinstance(d.call, Authz)]
        assert rules and rules[0].permission is not None, route.path
        out.append((route.path, route.path, rules[0].permission))
    return out


def _url(path: str, system: str) -> str:
    return "/api/v1" + re.sub(r"\{(name|system)\}", system, path).replace("{version}", "1.0")


@SQLITE
def test_scoped_grants_reach_their_system_and_no_other(container: Container, make_user: MakeUser) -> None:
    _system(container, "credit", "risk")
    _system(container, "other", "ops")
    routes = _system_routes()
    assert len(routes) >= 8, routes
    checked = {"allowed": 0, "denied": 0}
    with TestClient(Dispatcher(container)) as client:
        for scope in ("system:credit", "team:risk"):
            for role in SCOPED_ROLES:
                spec: Any = (role, "legal") if role is Role.REVIEWER else role
                _, key = make_user(spec, scope=scope)
                headers = stack.bearer(key)
                for path, _, permission in routes:
                    mine = client.get(_url(path, "credit"), headers=headers)
                    theirs = client.get(_url(path, "other"), headers=headers)
                    assert theirs.status_code == 403, (scope, role, path, theirs.status_code, theirs.text[:200])
                    if permission in ROLE_PERMISSIONS[role] and path not in NEEDS_GLOBAL:
                        assert mine.status_code != 403, (scope, role, path, mine.text[:200])
                        assert mine.status_code < 500, (scope, role, path, mine.text[:200])
                        checked["allowed"] += 1
                    else:
                        assert mine.status_code == 403, (scope, role, path, mine.status_code)
                    checked["denied"] += 1
                # a scoped writer may change its own system only
                if Permission.CATALOG_WRITE in ROLE_PERMISSIONS[role]:
                    ok = client.patch("/api/v1/systems/credit", json={"deployer": f"{role}"}, headers=headers)
                    assert ok.status_code == 200, (scope, role, ok.text)
                bad = client.patch("/api/v1/systems/other", json={"deployer": "intruder"}, headers=headers)
                assert bad.status_code == 403, (scope, role, bad.status_code)
                # a list shows only what the grant covers
                listed = client.get("/api/v1/systems", headers=headers)
                if listed.status_code == 200:
                    names = {s["name"] for s in listed.json()["items"]}
                    assert "other" not in names, (scope, role, names)
    assert checked["allowed"] > 20 and checked["denied"] > 50, checked


# --- separation of duties under concurrency, over HTTP --------------------------------------------------------
def _race(calls: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        out[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def _user(c: Container, name: str, *roles: tuple[str, str | None], password: str | None = None) -> str:
    with c.uow() as uow:
        auth.add_user(uow, SYSTEM_ACTOR, UserCreate(name=name, password=password))
    for role, fn in roles:
        with c.uow() as uow:
            auth.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal=name, role=role, function=fn))
    from charter.auth.schemas import KeyCreate

    with c.uow() as uow:
        return auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=name)).key


PASSWORD = "correct horse battery staple"


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Any:
    """A real `charter serve` at debug log level over a data dir with a high-risk system ready for a license."""
    world = stack.make_world(settings, {})
    from charter import bootstrap

    c = bootstrap.build(settings)
    keys: dict[str, str] = {}
    try:
        with c.uow() as uow:
            catalog.register_system(
                uow,
                SYSTEM_ACTOR,
                SystemCreate.model_validate({"name": "credit", "purpose": "x", "answers": stack.ANSWERS["high"]}),
            )
        keys["rhea"] = _user(c, "rhea", ("ml-engineer", None), ("reviewer", "legal"), password=PASSWORD)
        keys["bob"] = _user(c, "bob", ("reviewer", "legal"), ("reviewer", "ethics"), ("reviewer", "security"))
        keys["bob-web"] = _user(c, "bob-web", ("viewer", None), password=PASSWORD)
        for fn in ("ml-lead", "security", "legal", "ethics", "privacy"):
            keys[fn] = _user(c, f"rev-{fn}", ("reviewer", fn))
    finally:
        c.close()
    log = tmp_path / "serve.log"
    server = stack.start({**stack.home_env(settings), "CHARTER_LOG_LEVEL": "debug"}, log)
    try:
        yield server, world, keys, log
    finally:
        server.stop()


def _version(url: str, admin: str, n: int) -> str:
    body = {"version": f"{n}.0", "digest": "sha256:" + f"{n:02d}" * 32, "size_bytes": 1}
    r = httpx.post(f"{url}/api/v1/systems/credit/versions", json=body, headers=stack.bearer(admin), timeout=30)
    assert r.status_code == 201, r.text
    return f"credit@{n}.0"


@SQLITE
def test_separation_of_duties_under_concurrent_approvals(served: Any) -> None:
    server, world, keys, log = served
    url, admin = server.url, world.admin_key
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as client:
        for round_ in range(3):
            model = _version(url, admin, round_ + 1)
            body = {"model": model, "env": "production", "purposes": ["p"], "callers": [stack.APP], "days": 30}
            r = client.post("/licenses", json=body, headers=stack.bearer(keys["rhea"]))
            assert r.status_code == 201, r.text
            lid = r.json()["id"]

            def sign(who: str, fn: str, lid: str = lid) -> httpx.Response:
                doc = {"function": fn, "decision": "approve", "comment": "race"}
                return client.post(f"/licenses/{lid}/signoffs", json=doc, headers=stack.bearer(keys[who]))

            # the requester signs as a reviewer while bob signs as three functions at once
            out = _race(
                [lambda: sign("rhea", "legal")]
                + [lambda fn=fn: sign("bob", fn) for fn in ("legal", "ethics", "security")]
            )
            assert out[0].status_code in (403, 409), out[0].text  # the requester never counts
            bob_ok = [r for r in out[1:] if r.status_code == 201]
            assert len(bob_ok) == 1, [(r.status_code, r.text[:120]) for r in out[1:]]  # one person counts once
            status = client.get(f"/licenses/{lid}/status", headers=stack.bearer(admin)).json()
            signed = {
                s["function"]
                for s in client.get(f"/licenses/{lid}/signoffs", headers=stack.bearer(admin)).json()["items"]
            }
            assert len(signed) == 1 and status["state"] != "active", status
            # distinct people complete it
            for fn in status["missing_signoffs"]:
                assert sign(fn, fn).status_code == 201
            final = client.get(f"/licenses/{lid}", headers=stack.bearer(admin)).json()
            approvers = client.get(f"/licenses/{lid}/signoffs", headers=stack.bearer(admin)).json()["items"]
            people = [s["principal"] for s in approvers if s["decision"] == "approve"]
            assert len(people) == len(set(people)) and "user:rhea" not in people, people
            assert final["state"] in ("approved", "active"), final


@SQLITE
def test_secrets_cookies_csrf_and_login_throttling_on_a_real_server(served: Any, settings: Settings) -> None:
    server, world, keys, log = served
    url = server.url
    secrets_used = [world.admin_key, world.app_key, *keys.values(), PASSWORD]
    # keys where they must never be put, and where they belong; failing and succeeding requests alike
    for key in secrets_used[:-1]:
        httpx.get(f"{url}/api/v1/whoami?api_key={key}", timeout=30)
        httpx.get(f"{url}/api/v1/whoami", headers=stack.bearer(key), timeout=30)
        httpx.get(f"{url}/api/v1/whoami", headers=stack.bearer(key + "x"), timeout=30)
        httpx.post(f"{url}/api/v1/teams", json={"name": key}, headers=stack.bearer(key), timeout=30)
        httpx.post(f"{url}/v1/chat/completions", json={"model": "x"}, headers=stack.bearer(key), timeout=30)
    # dashboard sign-in over real HTTP on loopback: strict, HttpOnly, not Secure (plain HTTP), CSRF-bound
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as web:
        csrf = _login_csrf(web)
        r = web.post("/login", data={"csrf": csrf, "mode": "password", "username": "rhea", "password": PASSWORD})
        assert r.status_code == 303, r.text
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("charter_session="))
        attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict"} <= attrs and "secure" not in attrs, cookie
        assert web.post("/logout").status_code == 403  # no CSRF token: refused, still signed in
        assert web.get("/").status_code == 200
    # off loopback (a public Host name; TLS terminates in front of Charter): every cookie is Secure, the session
    # cookie is __Host- prefixed. A browser would not send Secure cookies over plain HTTP: send them by hand.
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as public:
        host = {"Host": "charter.example.com"}
        page = public.get("/login", headers=host)
        login_cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith(LOGIN_CSRF_COOKIE + "="))
        assert "secure" in login_cookie.lower(), login_cookie
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        jar = {"Cookie": login_cookie.split(";", 1)[0], **host}
        form = {"csrf": found.group(1), "mode": "password", "username": "bob-web", "password": PASSWORD}
        public.cookies.clear()
        r = public.post("/login", data=form, headers=jar)
        assert r.status_code == 303, r.text[:300]
        session = next(c for c in r.headers.get_list("set-cookie") if "charter_session=" in c)
        attrs = {a.strip().lower() for a in session.split(";")[1:]}
        assert session.startswith("__Host-charter_session=") and {"secure", "httponly", "samesite=strict"} <= attrs
    # login throttling: the default budget per address and name, then 429 even with the right password
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as web:
        statuses = []
        for _ in range(12):
            csrf = _login_csrf(web)
            r = web.post("/login", data={"csrf": csrf, "mode": "password", "username": "rhea", "password": "wrong" * 3})
            statuses.append(r.status_code)
        assert 429 in statuses, statuses
        csrf = _login_csrf(web)
        r = web.post("/login", data={"csrf": csrf, "mode": "password", "username": "rhea", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    text = log.read_text(errors="replace")
    assert "Application startup complete" in text  # the real log of that process
    leaked = [s[:12] + "…" for s in secrets_used if s in text]
    assert not leaked, f"secrets in the server log: {leaked}"
    stored = "\n".join(f"{e.actor} {e.resource} {e.details}" for e in stack.entries(settings))
    leaked = [s[:12] + "…" for s in secrets_used if s in stored]
    assert not leaked, f"secrets in the audit log: {leaked}"


def _login_csrf(web: httpx.Client) -> str:
    page = web.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text[:200]
    return found.group(1)
