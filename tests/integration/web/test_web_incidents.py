"""Dashboard: open serious incidents by reporting deadline (Art. 73)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.core.clock import utcnow
from charter.incidents import service
from charter.incidents.schemas import IncidentCreate
from tests.integration.web.conftest import Client, sign_in
from tests.support.builders import assessed_model


def test_open_incidents_listed_by_deadline(web: Client, user: Callable[..., str], container: Container) -> None:
    assessed_model(container, "credit")
    aware = utcnow() - timedelta(hours=1)
    with container.uow() as uow:
        slow = service.report(uow, SYSTEM_ACTOR, "credit", IncidentCreate(kind="serious_harm", aware_at=aware))
    with container.uow() as uow:
        fast = service.report(
            uow, SYSTEM_ACTOR, "credit", IncidentCreate(kind="critical_infrastructure", aware_at=aware)
        )
    user("vera", "viewer")
    page = sign_in(web(), "vera").get("/incidents")
    assert page.status_code == 200
    text = page.text
    assert text.index(fast.id) < text.index(slow.id)  # soonest deadline first
    assert "Art. 73(3)" in text and "Art. 73(2)" in text and 'href="/incidents"' in text
    # the page's report link works for the signed-in person (it pointed at the API, which wants a Bearer key: 401)
    link = f'href="/incidents/{fast.id}/report"'
    assert link in text
    browser = sign_in(web(), "vera")
    report = browser.get(f"/incidents/{fast.id}/report")
    assert report.status_code == 200 and "Serious incident report" in report.text and fast.id in report.text
    assert "default-src" in report.headers["content-security-policy"]
    assert browser.get("/incidents/inc_nope/report").status_code == 404


def test_system_page_shows_red_controls(web: Client, user: Callable[..., str], container: Container) -> None:
    """Art. 4 AI literacy applies to every system and no rule checks it: red until attested."""
    assessed_model(container, "credit")
    user("vera", "viewer")
    page = sign_in(web(), "vera").get("/systems/credit")
    assert page.status_code == 200 and 'id="control-status"' in page.text
    row = page.text[page.text.index("<code>EUAIA-ART4</code>") :][:400]
    assert "badge-status-fail" in row and "missing" in row
