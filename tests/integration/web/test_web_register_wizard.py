"""Registering a system through the questionnaire wizard: each Art. 5 / Annex III question explained, errors next
to their field, nothing stored before the last step, the same service and permission as the API, CSRF-protected."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from starlette.testclient import TestClient

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import PROHIBITED_CONTROLS
from charter.core.errors import NotFound
from tests.integration.web.conftest import Client, page_csrf, sign_in
from tests.integration.web.test_web_license_state import text_of
from tests.support.web.forms import form_values


def step(client: TestClient, page: str, go: str = "next", **changes: str) -> tuple[int, str]:
    """Submit the wizard form of `page` as a browser would, with `changes` typed in and button `go` pressed."""
    values = {**form_values(page, "wizard"), **changes, "go": go}
    r = client.post("/systems/new", data=values)
    return r.status_code, r.text


def registered(container: Container, name: str) -> bool:
    with container.uow() as uow:
        try:
            catalog.show_system(uow, SYSTEM_ACTOR, name)
        except NotFound:
            return False
    return True


def error_next_to(page: str, field: str) -> str:
    """The message shown right under field `field` (ids are `err-<field with - for .>`)."""
    found = re.search(rf'<p class="field-error" id="err-{re.escape(field.replace(".", "-"))}"[^>]*>([^<]+)</p>', page)
    assert found is not None, f"no error next to {field}"
    return html.unescape(found.group(1))


def test_the_wizard_explains_classifies_and_registers(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    user("eve", "ml-engineer")
    client = sign_in(web(), "eve")
    page = client.get("/systems/new").text
    status, page = step(client, page, name="Credit Scoring!", purpose="")
    assert status == 422
    assert "'Credit Scoring!' is not valid here: use lowercase letters" in error_next_to(page, "name")
    assert error_next_to(page, "purpose")

    status, page = step(client, page, name="credit-scoring", purpose="Scores consumer loan applicants")
    assert status == 200 and "Prohibited practices (Art. 5)" in page
    visible = text_of(page)
    for field in PROHIBITED_CONTROLS:  # every Art. 5(1) point asked, with the control that explains it
        assert f'name="q.prohibited.{field}"' in page
    assert "Art. 5(1)(c)" in visible and "Social scoring" in visible and "detrimental treatment" in visible

    status, page = step(client, page)  # nothing answered: every point must be answered
    assert status == 422 and "every Art. 5(1) point must be answered" in error_next_to(page, "q.prohibited.csam")
    answers = {f"q.prohibited.{f}": "no" for f in PROHIBITED_CONTROLS}
    status, page = step(client, page, **answers)
    assert status == 200 and "Annex III area 5: Essential private and public services" not in page  # titles shortened
    assert "Essential private and public services and benefits" in page and "creditworthiness" in page

    status, page = step(client, page, **{"q.annex_iii.point": "9(z)"})
    assert status == 422 and "e.g. 5(b)" in error_next_to(page, "q.annex_iii.point")
    status, page = step(client, page, **{"q.annex_iii.point": "5(b)", "q.annex_iii.profiling": "yes"})
    assert status == 200 and "Transparency" in page
    status, page = step(client, page)
    status, page = step(client, page, **{"q.data.personal_data": "yes"})
    assert status == 200 and 'id="review"' in page
    review = text_of(page)
    assert "Risk tier: high" in review and "Annex III point 5(b)" in review
    assert not registered(container, "credit-scoring")  # nothing stored before the last step

    status, page = step(client, page, go="back")
    assert status == 200 and 'name="q.data.personal_data" value="yes" checked' in page  # answers kept
    status, page = step(client, page)
    r = client.post("/systems/new", data={**form_values(page, "wizard"), "go": "register"})
    assert r.status_code == 303 and r.headers["location"] == "/systems/credit-scoring?done=registered"
    with container.uow() as uow:
        system = catalog.show_system(uow, SYSTEM_ACTOR, "credit-scoring")
    assert system.risk_tier == "high" and system.personal_data and system.created_by == "user:eve"
    assert system.answers["annex_iii"]["point"] == "5(b)"

    # Registering the same name again: the service refuses, the error lands next to the name on the first step.
    again = {**form_values(page, "wizard"), "go": "register"}
    r = client.post("/systems/new", data=again)
    assert r.status_code == 409 and "already exists" in error_next_to(r.text, "name")


def test_the_derogation_without_a_point_is_refused_next_to_its_field(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    user("eve", "ml-engineer")
    client = sign_in(web(), "eve")
    page = client.get("/systems/new").text
    values = {
        **form_values(page, "wizard"),
        "name": "ticket-router",
        "purpose": "Routes support tickets",
        **{f"q.prohibited.{f}": "no" for f in PROHIBITED_CONTROLS},
        "q.annex_iii.derogation": "narrow_procedural_task",
        "step": "review",
        "go": "register",
    }
    r = client.post("/systems/new", data=values)
    assert r.status_code == 422 and "annex_iii.point" in error_next_to(r.text, "q.annex_iii.derogation")
    assert not registered(container, "ticket-router")


def test_the_wizard_needs_catalog_write_and_a_csrf_token(
    web: Client, user: Callable[..., str], container: Container
) -> None:
    user("eve", "ml-engineer")
    eve = sign_in(web(), "eve")
    page = eve.get("/systems/new").text
    values = {
        **form_values(page, "wizard"),
        "name": "forged",
        "purpose": "x",
        **{f"q.prohibited.{f}": "no" for f in PROHIBITED_CONTROLS},
        "go": "register",
    }
    assert eve.post("/systems/new", data={**values, "csrf": "wrong"}).status_code == 403
    assert not registered(container, "forged")
    user("vic", "viewer")
    vic = sign_in(web(), "vic")
    assert vic.get("/systems/new").status_code == 403
    assert "Register a system" not in vic.get("/systems").text
    forged = vic.post("/systems/new", data={**values, "csrf": page_csrf(vic)})
    assert forged.status_code == 403 and "may not catalog.write" in forged.text
    assert not registered(container, "forged")
