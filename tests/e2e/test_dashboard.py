"""The dashboard in a real browser (Debian chromium via Playwright) against a real `charter serve` subprocess.

Screenshots of every page land in test-artifacts/dashboard/. Every request the pages make must go to Charter.
One server and one browser serve the module (per backend); each test signs in in its own browser context.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from charter.settings import Settings
from tests.support.db import BACKENDS, Templates, admin_key, copied_init, env_for, settings_for
from tests.support.server import Server
from tests.support.web import (
    Seeder,
    chromium,
    foreign,
    fresh_page,
    require_browser,
    seed_catalog,
    seed_minimal_system,
    seed_monitoring,
    shot,
    shot_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "correct horse battery staple"
START_TIMEOUT = 120.0  # the machine is shared: a cold start can take a while


@dataclass
class Running:
    server: Server
    seed: Seeder
    admin_key: str
    settings: Settings
    browser: Any
    keys: dict[str, str]

    @contextmanager
    def page(self) -> Iterator[tuple[Any, list[str]]]:
        with fresh_page(self.browser, self.server.url) as found:
            yield found


@pytest.fixture(scope="module", params=BACKENDS)
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, templates: Templates
) -> Iterator[Running]:
    """One server and one browser for the module (browser tests are slow), with the people the tests sign in as."""
    require_browser()
    home = tmp_path_factory.mktemp("dashboard")
    template = templates.get(str(request.param))
    with settings_for(str(request.param), home / "home", template=template) as settings:
        env = env_for(settings)
        key = admin_key(copied_init(template, settings.home))
        server = Server({**env, "CHARTER_LOGIN_RATE_PER_MINUTE": "60"}, log=home / "server.log")
        seed = Seeder(server.url, key)
        try:
            server.start(timeout=START_TIMEOUT)
            seed.post("/teams", {"name": "risk"})
            keys = {
                "alice": seed.user("alice", PASSWORD, ("auditor", None), team="risk"),
                "vera": seed.user("vera", PASSWORD, ("viewer", None)),
                "eve": seed.user("eve", PASSWORD, ("ml-engineer", None)),
                "rita": seed.user("rita", PASSWORD, ("ml-engineer", None)),
                "lena": seed.user("lena", PASSWORD, ("reviewer", "ml-lead"), ("auditor", None)),
            }
            seed.post("/apps", {"name": "helpdesk"})
            with chromium() as browser:
                yield Running(server, seed, key, settings, browser, keys)
        finally:
            seed.close()
            server.stop()


def login(page: object, user: str, password: str) -> None:
    if "/login" not in page.url:  # type: ignore[attr-defined]
        page.goto("/login")  # type: ignore[attr-defined]
    form = page.locator("#login-password")  # type: ignore[attr-defined]
    form.get_by_label("User name").fill(user)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def nav(page: Any, label: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True)


def test_login_overview_audit_logout(running: Running) -> None:
    with running.page() as (page, requested):
        page.goto("/audit")
        assert page.url.endswith("/login?next=%2Faudit")
        shot(page, "01-login")

        login(page, "alice", "wrong password!!")
        assert page.get_by_role("alert").inner_text() == "Wrong user name or password."

        login(page, "alice", PASSWORD)
        page.wait_for_url(re.compile(r"/audit$"))
        page.goto("/")
        page.get_by_role("heading", name="Overview").wait_for()
        assert "user:alice" in page.inner_text("main")
        shot(page, "02-overview")

        nav(page, "Audit log").click()
        page.wait_for_url(re.compile(r"/audit$"))
        rows = page.locator("#audit-rows tbody tr")
        assert rows.count() >= 5
        assert "session.login" in page.inner_text("#audit-rows")
        assert "✓ verified" in page.inner_text("main")  # the latest signed checkpoint verifies
        shot(page, "03-audit-log")

        # HTMX filter: the table is replaced in place and the URL follows.
        page.get_by_label("Action").fill("session.")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(re.compile(r"action=session"))
        actions = page.locator("#audit-rows tbody td code").all_inner_texts()
        assert actions and all(a.startswith("session.") for a in actions)
        denied = page.locator("#audit-rows .badge-outcome-denied")
        assert denied.count() == 1  # the wrong password above

        page.locator("#audit-rows tbody a").first.click()
        page.get_by_text("equals the stored leaf hash").wait_for()
        page.get_by_text("the entry is included in this tree").wait_for()
        shot(page, "04-audit-entry")

        nav(page, "Coverage").click()
        page.get_by_role("heading", name="Controls coverage").wait_for()
        assert page.locator("#coverage-table tbody tr").count() >= 4
        page.get_by_label("Risk tier").select_option("high")
        page.wait_for_url(re.compile(r"tier=high"))
        shot(page, "06-coverage")
        page.get_by_role("link", name=re.compile("EU Artificial Intelligence Act")).click()
        page.get_by_text("EUAIA-ART10", exact=True).wait_for()
        shot(page, "07-coverage-framework")

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/login$"))
        page.goto("/")
        assert "/login" in page.url
    outside = foreign(requested, running.server.url)
    assert not outside, f"the dashboard requested other hosts: {outside}"
    assert any("/static/vendor/htmx.min.js" in u for u in requested)


def test_forbidden_page_is_friendly(running: Running) -> None:
    with running.page() as (page, requested):
        login(page, "vera", PASSWORD)
        page.get_by_role("heading", name="Overview").wait_for()
        assert nav(page, "Audit log").count() == 0
        response = page.goto("/audit")
        assert response is not None and response.status == 403
        assert page.get_by_role("heading", name="Not allowed").is_visible()
        assert "may not audit.read" in page.inner_text("main")
        assert "Traceback" not in page.content()
        shot(page, "05-forbidden")
        response = page.goto("/audit/999999")
        assert response is not None and response.status == 403
        response = page.goto("/no/such/page")
        assert response is not None and response.status == 404
    assert not foreign(requested, running.server.url)


def test_systems_and_lineage(running: Running) -> None:
    seed_catalog(running.seed)
    with running.page() as (page, requested):
        login(page, "eve", PASSWORD)
        nav(page, "Systems").click()
        page.get_by_role("heading", name="AI systems").wait_for()
        row = page.locator("tr", has=page.get_by_role("link", name="credit-scoring"))
        assert "high" in row.inner_text()
        shot(page, "08-systems")
        page.get_by_role("link", name="credit-scoring").click()
        page.get_by_role("heading", level=1, name=re.compile("credit-scoring")).wait_for()
        svg = page.locator("#lineage svg")
        assert svg.count() == 1
        refs = set(svg.locator("g.node").evaluate_all("els => els.map(e => e.dataset.ref)"))
        assert {"credit-scoring@1.1.0", "loans-clean@1", "loans-raw@1", "bureau-features@1"} <= refs, refs
        assert svg.locator("g.node-personal").count() >= 2
        assert page.locator("#lineage").get_by_text("training").count() >= 1
        shot(page, "09-system")
        shot_of(page.locator("#lineage"), "09b-system-lineage")
        evaluations = page.locator("section", has=page.get_by_role("heading", name="Evaluations"))
        assert "not evaluated yet" in evaluations.inner_text()  # 1.0.0
        evaluations.locator("a .badge-verdict-fail").click()
        page.get_by_role("heading", name=re.compile("Assessment of credit-scoring@1.1.0")).wait_for()
        assert page.locator("tr.row-alert").count() >= 1  # failing blocker rules come first
        shot(page, "10-assessment")
        page.go_back()
        page.get_by_role("link", name="1.0.0").click()
        page.wait_for_url(re.compile(r"version=1.0.0"))
        assert "No dataset is linked" in page.inner_text("#lineage")
        response = page.goto("/systems/nope")
        assert response is not None and response.status == 404
    assert not foreign(requested, running.server.url)


def _request_license(running: Running, requester_key: str, model: str, conditions: list[str] | None = None) -> str:
    """Record a passing assessment for `model`, then request a license for it over the API as the requester.

    The assessment is recorded through the evaluation service on the server's database, against an empty policy
    set: a real passing evaluation needs far more evidence than this test is about.
    """
    from charter import bootstrap
    from charter.auth.model import SYSTEM_ACTOR
    from charter.evaluation import service as evaluation
    from charter.policies.engine import evaluate

    container = bootstrap.build(running.settings)
    try:
        with container.uow() as uow:
            evaluation.record_assessment(uow, SYSTEM_ACTOR, model, evaluate([], {}), {})
    finally:
        container.close()
    body = {
        "model": model,
        "env": "production",
        "purposes": ["customer-support"],
        "callers": ["app:helpdesk"],
        "days": 30,
        "conditions": conditions or [],
    }
    return str(running.seed.post("/licenses", body, key=requester_key)["id"])


def test_inbox_approval_activates_the_license(running: Running) -> None:
    model = seed_minimal_system(running.seed)
    license_id = _request_license(running, running.keys["rita"], model)
    with running.page() as (page, requested):
        login(page, "lena", PASSWORD)
        page.get_by_role("heading", name="Overview").wait_for()
        pending = page.locator("section", has=page.get_by_role("heading", name=re.compile("Pending sign-offs")))
        assert "waiting for you" in pending.inner_text() and "ml-lead" in pending.inner_text()
        shot(page, "11-overview-reviewer")

        nav(page, "Sign-offs").click()
        item = page.locator(f"#item-{license_id}")
        item.wait_for()
        assert "support-bot@2.0.0" in item.inner_text() and "Signing as ml-lead" in item.inner_text()
        shot(page, "12-inbox")

        item.get_by_role("button", name="Reject").click()  # a rejection needs a comment: refused, nothing recorded
        page.locator("#flash").get_by_text("a comment is required").wait_for()

        item.get_by_label("Comment").fill("Checked the model card and the evaluation; fine for FAQ answers.")
        item.get_by_role("button", name="Approve").click()
        item.get_by_text("The license is now").wait_for()
        assert item.locator(".badge-state-active").count() == 1
        shot(page, "13-inbox-approved")

        item.get_by_role("link", name="support-bot@2.0.0 · production").click()
        page.wait_for_url(re.compile(f"/licenses/{license_id}$"))
        assert page.locator("#license-state .badge-state-active").count() == 1
        approved = page.locator('.timeline li[data-function="ml-lead"]')
        assert "lena" in approved.inner_text() and "Checked the model card" in approved.inner_text()
        token = page.locator("#license-token").inner_text()
        assert token.count(".") == 2
        actions = page.locator("#history li").evaluate_all("els => els.map(e => e.dataset.action)")
        assert actions == ["license.request", "signoff.approve", "license.approve", "license.activate"], actions
        history = page.locator("#history").inner_text()
        assert "Sign-off approved as ml-lead" in history and "Checked the model card" in history
        shot(page, "14-license")

        nav(page, "Sign-offs").click()
        page.get_by_text("Nothing is waiting for your sign-off.").wait_for()
        nav(page, "Licenses").click()
        row = page.locator("tr", has=page.get_by_text(license_id))
        assert "support-bot@2.0.0 · production" in row.inner_text() and "active" in row.inner_text()
        shot(page, "15-licenses")
    assert not foreign(requested, running.server.url)


def test_monitoring_chart_shows_the_breach_that_suspended_the_license(running: Running) -> None:
    model = seed_minimal_system(running.seed, "churn-model", "3.1.0")
    lena = running.keys["lena"]
    license_id = _request_license(running, running.keys["rita"], model, conditions=["drift.psi_max < 0.25 => suspend"])
    running.seed.post(f"/licenses/{license_id}/signoffs", {"function": "ml-lead", "decision": "approve"}, key=lena)
    seed_monitoring(running.seed, model, [0.0, 0.05, 0.0, 2.5])  # the last window drifts
    with running.page() as (page, requested):
        login(page, "lena", PASSWORD)
        breaches = page.locator("section", has=page.get_by_role("heading", name="Breached conditions"))
        assert "drift.psi_max < 0.25" in breaches.inner_text()
        nav(page, "Monitoring").click()
        page.get_by_role("heading", name="Monitoring", exact=True).wait_for()
        row = page.locator("#monitored tr", has=page.get_by_role("link", name=model))
        assert "1 breached" in row.inner_text()
        shot(page, "16-monitoring")

        row.get_by_role("link", name=model).click()
        drift = page.locator("#panel-drift")
        drift.locator("[data-chart-ready]").wait_for()
        assert drift.locator("canvas").count() == 1
        assert int(drift.locator(".chart").get_attribute("data-breaches") or 0) == 1
        legend = drift.locator(".u-legend").inner_text()
        assert "drift.psi_max" in legend and "breach" in legend
        assert page.locator("#panel-performance [data-chart-ready]").count() == 1
        conditions = page.locator("#conditions").inner_text()
        assert "breached" in conditions and "suspend" in conditions
        shot(page, "17-monitoring-model")
        shot_of(drift, "17b-drift-chart")

        page.locator("#conditions").get_by_role("link", name="churn-model@3.1.0 · production").click()
        assert page.locator("#license-state .badge-state-suspended").count() == 1
    assert not foreign(requested, running.server.url)
