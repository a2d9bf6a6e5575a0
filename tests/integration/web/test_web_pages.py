"""Dashboard pages: authorization through the services, friendly errors, security headers, local assets only."""

from __future__ import annotations

import re
from collections.abc import Callable

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import RoleGrant, TeamCreate
from charter.bootstrap import Container
from tests.integration.web.conftest import Client, sign_in


def test_error_pages_are_friendly_and_carry_the_status(web: Client, user: Callable[..., str]) -> None:
    user("vera", "viewer")
    client = sign_in(web(), "vera")
    r = client.get("/audit")
    assert r.status_code == 403
    assert "Not allowed" in r.text and "may not audit.read" in r.text and "Traceback" not in r.text
    assert 'href="/audit"' not in r.text  # not offered in the navigation either
    r = client.get("/systems/does-not-exist")
    assert r.status_code == 404 and "Not found" in r.text
    r = client.get("/systems?tier=bogus")
    assert r.status_code == 422 and "risk tier must be one of" in r.text
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "there is no page at this address" in r.text


def test_htmx_errors_land_in_the_message_area(web: Client, user: Callable[..., str]) -> None:
    user("ann", "auditor")
    client = sign_in(web(), "ann")
    r = client.get("/audit?outcome=bogus", headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert r.headers["HX-Retarget"] == "#flash" and "<html" not in r.text
    assert "outcome must be one of" in r.text


def test_audit_log_filters_and_pages(web: Client, user: Callable[..., str]) -> None:
    user("ann", "auditor")
    client = sign_in(web(), "ann")
    page = client.get("/audit?action=session.")
    assert page.status_code == 200
    actions = re.findall(r"<td><code>([^<]+)</code></td>", page.text)
    assert actions and set(actions) == {"session.login"}
    fragment = client.get("/audit?action=user.", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "user.create" in fragment.text
    entry = client.get("/audit/0")
    assert entry.status_code == 200 and "equals the stored leaf hash" in entry.text
    assert client.get("/audit/999999").status_code == 404
    assert client.get("/audit?before=abc").status_code == 422


def test_security_headers_and_no_third_party_assets(web: Client, user: Callable[..., str]) -> None:
    user("ann", "auditor")
    client = sign_in(web(), "ann")
    for path in ("/", "/audit", "/coverage", "/systems", "/login"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
        for url in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            assert url.startswith("/") or url.startswith("#"), (path, url)
        assert "<script>" not in r.text and " on" + "click=" not in r.text
    for asset in ("vendor/htmx.min.js", "vendor/uPlot.iife.min.js", "charter.css", "charter.js"):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and len(r.content) > 100, asset


def test_coverage_per_framework(web: Client, user: Callable[..., str]) -> None:
    user("ann", "auditor")
    client = sign_in(web(), "ann")
    r = client.get("/coverage?tier=high")
    assert r.status_code == 200 and "eu-ai-act" in r.text
    r = client.get("/coverage/gdpr")
    assert r.status_code == 200 and "GDPR-" in r.text
    assert client.get("/coverage/nope").status_code == 404
    assert client.get("/coverage?tier=nope").status_code == 422


def test_team_scoped_roles_get_the_overview_with_what_they_may_see(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    with container.uow() as uow:
        auth_service.add_team(uow, SYSTEM_ACTOR, TeamCreate(name="risk"))
    user("tess")
    with container.uow() as uow:
        grant = RoleGrant(principal="tess", role="auditor", scope="team:risk")
        auth_service.grant_role(uow, SYSTEM_ACTOR, grant)
    client = sign_in(web(), "tess")
    r = client.get("/")
    assert r.status_code == 200
    assert "Your roles do not include reading the audit log." in r.text  # the log spans every team
    assert client.get("/audit").status_code == 403
