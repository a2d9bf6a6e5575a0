"""Requesting a license and suspending / reinstating / revoking one from the dashboard: the API's schemas and the
licenses service (so its permissions), CSRF-protected, errors next to the field, nothing half-written."""

from __future__ import annotations

import re
from collections.abc import Callable

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.licenses import service as licenses
from tests.integration.web.conftest import MODEL, Client, sign_in
from tests.integration.web.test_web_license_state import text_of
from tests.integration.web.test_web_register_wizard import error_next_to
from tests.support.web.forms import form_values


def count(container: Container) -> int:
    with container.uow() as uow:
        return len(licenses.list_licenses(uow, SYSTEM_ACTOR))


def test_request_a_license_from_the_form(
    web: Client, user: Callable[..., str], container: Container, requested: str
) -> None:
    client = sign_in(web(), "rita")  # ml-engineer: may request
    page = client.get(f"/licenses/new?model={MODEL}").text
    assert f'<option value="{MODEL}" selected>' in page
    values = form_values(page, "license-request")
    assert values["model"] == MODEL and values["env"] == "staging"
    before = count(container)

    bad = {
        **values,
        "purposes": "faq",
        "callers": "nobody-here",
        "days": "30",
        "conditions": "drift.psi_max < 0.25 => suspend",
    }
    r = client.post("/licenses/new", data=bad)
    assert r.status_code == 404 and "no app named 'nobody-here'" in error_next_to(r.text, "callers")
    assert 'value="nobody-here"' in r.text  # what was typed is kept
    r = client.post("/licenses/new", data={**bad, "callers": "helpdesk", "days": "400"})
    assert r.status_code == 422 and "exceeds the 365-day cap" in error_next_to(r.text, "days")
    r = client.post("/licenses/new", data={**bad, "callers": "helpdesk", "days": "ten"})
    assert r.status_code == 422 and "whole number" in error_next_to(r.text, "days")
    r = client.post("/licenses/new", data={**bad, "callers": "helpdesk", "conditions": "psi is high => panic"})
    assert r.status_code == 422 and "METRIC OP VALUE" in error_next_to(r.text, "conditions")
    r = client.post("/licenses/new", data={**bad, "callers": "helpdesk", "env": "Prod Env"})
    assert r.status_code == 422 and error_next_to(r.text, "env")
    assert count(container) == before  # nothing half-written

    r = client.post("/licenses/new", data={**bad, "callers": "helpdesk, app:helpdesk", "tools": "search"})
    assert r.status_code == 303
    new_id = r.headers["location"].split("/")[2].split("?")[0]
    with container.uow() as uow:
        lic = licenses.get(uow, SYSTEM_ACTOR, new_id)
    assert (lic.env, lic.callers, lic.tools, lic.days) == ("staging", ["app:helpdesk"], ["search"], 30)
    assert lic.requested_by == "user:rita" and str(lic.state) == "requested"
    shown = text_of(client.get(r.headers["location"]).text)
    assert "License requested" in shown and "faq-bot@1.0.0 · staging" in shown


def test_requesting_needs_the_permission_and_a_csrf_token(
    web: Client, user: Callable[..., str], container: Container, requested: str
) -> None:
    rita = sign_in(web(), "rita")
    values = {
        **form_values(rita.get("/licenses/new").text, "license-request"),
        "model": MODEL,
        "purposes": "faq",
        "callers": "helpdesk",
    }
    before = count(container)
    assert rita.post("/licenses/new", data={**values, "csrf": ""}).status_code == 403
    user("vic", "viewer")
    vic = sign_in(web(), "vic")
    assert vic.get("/licenses/new").status_code == 403
    assert "Request a license" not in vic.get("/licenses").text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', vic.get("/").text)
    assert csrf is not None
    r = vic.post("/licenses/new", data={**values, "csrf": csrf.group(1)})
    assert r.status_code == 403 and "may not license.request" in r.text
    assert count(container) == before


def test_suspend_reinstate_revoke_with_a_reason(
    web: Client, user: Callable[..., str], container: Container, active: str
) -> None:
    user("sam", "senior-engineer")
    client = sign_in(web(), "sam")
    page = client.get(f"/licenses/{active}").text
    assert 'id="form-suspend"' in page and 'id="form-revoke"' in page and 'id="form-reinstate"' not in page
    suspend = form_values(page, "form-suspend")

    r = client.post(f"/licenses/{active}/suspend", data={**suspend, "reason": "  "})
    assert r.status_code == 422 and "a reason is required" in error_next_to(r.text, "reason")
    r = client.post(f"/licenses/{active}/suspend", data={**suspend, "reason": "x", "category": "Bad Category"})
    assert r.status_code == 422 and error_next_to(r.text, "category")
    with container.uow() as uow:
        assert str(licenses.get(uow, SYSTEM_ACTOR, active).state) == "active"  # nothing happened

    r = client.post(f"/licenses/{active}/suspend", data={**suspend, "reason": "bias report", "category": "fairness"})
    assert r.status_code == 303 and r.headers["location"] == f"/licenses/{active}?done=suspend"
    with container.uow() as uow:
        lic = licenses.get(uow, SYSTEM_ACTOR, active)
    assert (str(lic.state), lic.reason, lic.reason_category) == ("suspended", "bias report", "fairness")

    stale = client.post(f"/licenses/{active}/revoke", data={**suspend, "reason": "stale form"})  # old version
    assert stale.status_code == 409 and "changed since you read it" in stale.text

    page = client.get(f"/licenses/{active}").text
    assert 'id="form-reinstate"' in page and "Not possible yet" in page
    reinstate = form_values(page, "form-reinstate")
    r = client.post(f"/licenses/{active}/reinstate", data={**reinstate, "reason": "fixed"})
    assert r.status_code == 409 and "cannot be reinstated yet" in error_next_to(r.text, "form")

    revoke = form_values(page, "form-revoke")
    r = client.post(f"/licenses/{active}/revoke", data={**revoke, "reason": "model withdrawn"})
    assert r.status_code == 303
    visible = text_of(client.get(f"/licenses/{active}").text)
    assert "Revoked" in visible and "model withdrawn" in visible and 'id="form-' not in visible


def test_state_changes_need_license_manage_and_csrf(
    web: Client, user: Callable[..., str], container: Container, active: str
) -> None:
    client = sign_in(web(), "rita")  # ml-engineer: may request, may not manage
    page = client.get(f"/licenses/{active}").text
    assert 'id="form-suspend"' not in page
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert csrf is not None
    r = client.post(f"/licenses/{active}/revoke", data={"csrf": csrf.group(1), "reason": "I want to"})
    assert r.status_code == 403 and "may not license.manage" in text_of(r.text)
    user("sam", "senior-engineer")
    sam = sign_in(web(), "sam")
    assert sam.post(f"/licenses/{active}/revoke", data={"reason": "no token"}).status_code == 403
    assert sam.post(f"/licenses/{active}/explode", data={"csrf": "x", "reason": "r"}).status_code == 403
    with container.uow() as uow:
        assert str(licenses.get(uow, SYSTEM_ACTOR, active).state) == "active"
