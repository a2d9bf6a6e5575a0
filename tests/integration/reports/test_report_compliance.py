"""The compliance summary across systems: tier, license states, latest verdict, re-audits, breaches, provenance and
sign-off completion, per system and in total; scoped to what the caller may report on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.licenses import service as licenses
from charter.reports.monitoring import MonitoringSummary, WindowSummary
from charter.storage.uow import UnitOfWork
from tests.conftest import MakeUser, bearer
from tests.integration.reports.world import ReportWorld

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the rest runs on every backend
EVIDENCE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def by_system(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["system"]: r for r in doc["items"]}


def test_summary_per_system(world: ReportWorld, client: TestClient) -> None:
    ref = world.documented_system()
    active = world.license(ref)
    world.bare_system("chat-helper")
    pending = world.license("chat-helper@0.1", approve=False)
    with world.c.uow() as uow:
        licenses.suspend(
            uow, world.admin, active.id, "dp_diff breached", {"condition": "fairness.dp_diff[sex] < 0.1 => suspend"}
        )

    r = client.get("/api/v1/reports/compliance")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    rows = by_system(doc)
    cs, ch = rows["credit-scoring"], rows["chat-helper"]
    assert cs["risk_tier"] == "high" and ch["risk_tier"] == "minimal"
    assert cs["licenses"] == {"suspended": 1} and ch["licenses"] == {"requested": 1}
    assert cs["latest_assessment"]["verdict"] == "pass" and ch["latest_assessment"] is None
    assert cs["open_reaudits"] == 1 and cs["overdue_reaudits"] == 0 and ch["open_reaudits"] == 0
    assert cs["breached_conditions"] == [f"{active.id} suspended: fairness.dp_diff[sex] < 0.1 => suspend"]
    assert cs["provenance"] == {"model": ref, "complete": True, "issues": []}
    assert ch["provenance"]["complete"] is False and "no training dataset" in ch["provenance"]["issues"][0]
    # the suspended license awaits its reinstatement sign-offs; the new request awaits ml-lead
    assert cs["signoffs"]["licenses"] == 1 and cs["signoffs"]["pending"][0]["state"] == "suspended"
    assert ch["signoffs"] == {
        "licenses": 1,
        "complete": 0,
        "pending": [{"license": pending.id, "state": "requested", "missing": ["ml-lead"]}],
        "ratio": 0.0,
    }
    totals = doc["totals"]
    assert totals["systems"] == 2 and totals["by_tier"] == {"high": 1, "minimal": 1}
    assert totals["by_verdict"] == {"none": 1, "pass": 1} and totals["breached_conditions"] == 1
    assert totals["provenance_incomplete"] == 1 and totals["signoffs_pending"] == 2

    page = client.get("/api/v1/reports/compliance?format=html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "credit-scoring" in page.text and "chat-helper" in page.text and "MISSING" in page.text


@SQLITE
def test_monitoring_breaches_come_through_the_protocol(world: ReportWorld, client: TestClient) -> None:
    world.documented_system()
    window = WindowSummary(
        model="credit-scoring@1.0",
        start=EVIDENCE_TIME,
        end=EVIDENCE_TIME,
        rows=5000,
        metrics={"drift.psi_max": 0.31},
        breaches=["drift.psi_max < 0.25 => suspend"],
    )

    def source(uow: UnitOfWork, system: str) -> MonitoringSummary | None:
        assert uow.session is not None
        return (
            MonitoringSummary(profiles=["credit-scoring@1.0"], windows=[window]) if system == "credit-scoring" else None
        )

    world.c.reports_monitoring = source
    rows = by_system(client.get("/api/v1/reports/compliance").json())
    assert rows["credit-scoring"]["breached_conditions"] == ["credit-scoring@1.0: drift.psi_max < 0.25 => suspend"]
    page = client.get("/api/v1/reports/systems/credit-scoring").text
    assert "credit-scoring@1.0 2026-01-01 00:00 UTC – 2026-01-01 00:00 UTC: 5000 rows; breached: drift.psi_max" in page


@SQLITE
def test_summary_only_lists_reportable_systems(world: ReportWorld, client: TestClient, make_user: MakeUser) -> None:
    world.documented_system()
    world.bare_system("chat-helper")
    _, key = make_user("viewer", scope="team:lending")
    doc = client.get("/api/v1/reports/compliance", headers=bearer(key)).json()
    assert [r["system"] for r in doc["items"]] == ["credit-scoring"] and doc["totals"]["systems"] == 1
    _, app_key = make_user("app")
    assert client.get("/api/v1/reports/compliance", headers=bearer(app_key)).status_code == 403
