"""Every API route × every role: unauthenticated → 401; a role without the route's permission → 403.

Fails when a route is added without an `Authz` rule (or an explicit public marker).
"""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from charter.api.app import api_routes
from charter.api.deps import Authz
from charter.auth.model import ROLE_PERMISSIONS, Permission, Role
from charter.bootstrap import Container
from tests.conftest import MakeUser, bearer

SKIP = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}


def _routes() -> list[tuple[str, str, Permission | None]]:
    out = []
    for route in api_routes():
        if route.path in SKIP:
            continue
        rules = [d.call for d in route.dependant.dependencies if isinstance(d.call, Authz)]
        for sub in route.dependant.dependencies:
            rules += [d.call for d in sub.dependencies if isinstance(d.call, Authz)]
        assert rules, f"{route.methods} {route.path} has no Authz rule: every route must declare its permission"
        assert route.methods is not None  # FastAPI fills in the methods of every APIRoute
        for method in sorted(route.methods):
            out.append((method, route.path, rules[0].permission))
    return out


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_route_has_a_rule_and_enforces_it(app: object, container: Container, make_user: MakeUser) -> None:
    routes = _routes()
    assert len(routes) >= 10
    keys = {role: make_user(role if role is not Role.REVIEWER else (role, "legal"))[1] for role in Role}
    checked_403 = 0
    with TestClient(app) as c:  # type: ignore[arg-type]
        for method, path, permission in routes:
            url = "/api/v1" + _fill(path)
            r = c.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            if permission is None:
                continue
            for role, key in keys.items():
                if permission in ROLE_PERMISSIONS[role]:
                    continue
                r = c.request(method, url, json={}, headers=bearer(key))
                assert r.status_code == 403, (method, path, role, r.status_code, r.text)
                checked_403 += 1
    assert checked_403 > len(routes)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_gateway_metrics_need_metrics_read(app: object, make_user: MakeUser) -> None:
    """The gateway's one read route outside /api/v1: `GET /metrics` needs `metrics.read` (admin, auditor)."""
    keys = {role: make_user(role if role is not Role.REVIEWER else (role, "legal"))[1] for role in Role}
    readers = {role for role in Role if Permission.METRICS_READ in ROLE_PERMISSIONS[role]}
    assert readers == {Role.ADMIN, Role.AUDITOR}
    with TestClient(app) as c:  # type: ignore[arg-type]
        r = c.get("/metrics")
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        for role, key in keys.items():
            r = c.get("/metrics", headers=bearer(key))
            assert r.status_code == (200 if role in readers else 403), (role, r.status_code, r.text[:200])
