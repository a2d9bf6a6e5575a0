"""Serious incidents over the API (Art. 73): deadline and authority, suspension that stops decisions at once,
list by deadline, close, permissions and clear 4xx for bad input."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import pypdf
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from charter.audit.tables import AuditEntryRow
from charter.bootstrap import Container
from charter.core.clock import pinned
from charter.reports.pdf import find_chromium
from tests.conftest import MakeUser, bearer
from tests.support.gateway_fake.world import Licensed, licensed

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
DEPLOYMENT = {"name": "credit-prod", "model": "credit@1.0", "env": "production", "upstream": "http://127.0.0.1:9/"}


@pytest.fixture
def world(container: Container) -> Licensed:
    return licensed(container)


def _audit(container: Container, prefix: str) -> list[dict[str, Any]]:
    with container.uow(write=False) as uow:
        rows = uow.session.scalars(select(AuditEntryRow.body).where(AuditEntryRow.action.like(f"{prefix}%")))
        return [json.loads(bytes(b)) for b in rows]


@SQLITE
def test_incident_with_suspension_stops_decisions_within_a_second(
    client: TestClient, world: Licensed, container: Container
) -> None:
    """Art. 73: report with --suspend; the system's licenses are suspended (audited) and calls are refused."""
    assert client.post("/api/v1/deployments", json=DEPLOYMENT).status_code == 201
    app = bearer(world.app_key)
    decide = "/api/v1/deployments/credit-prod/decisions"
    assert client.post(decide, json={"purpose": "credit-scoring"}, headers=app).json()["allowed"]
    body = {"kind": "death", "aware_at": "2026-01-09T10:00:00+00:00", "suspend": True, "member_state": "DE"}
    r = client.post("/api/v1/systems/credit/incidents", json=body)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["article"] == "Art. 73(4)" and doc["period_days"] == 10 and doc["last_day"] == "2026-01-19"
    assert "DE" in doc["authority"] and doc["status"] == "open" and doc["suspended_licenses"] == [world.license_id]
    deadline = time.monotonic() + 1.0
    while True:
        d = client.post(decide, json={"purpose": "credit-scoring"}, headers=app).json()
        if not d["allowed"] or time.monotonic() > deadline:
            break
    assert not d["allowed"] and d["reason"] == "license_suspended"
    assert client.get(f"/api/v1/licenses/{world.license_id}").json()["state"] == "suspended"
    reported = _audit(container, "incident.report")
    assert reported and reported[0]["details"]["incident"] == doc["id"] and reported[0]["details"]["suspend"]
    suspended = [e for e in _audit(container, "license.suspend") if e["details"]["evidence"]["incident"] == doc["id"]]
    assert len(suspended) == 1


@SQLITE
def test_list_by_deadline_show_close_and_permissions(
    client: TestClient, world: Licensed, make_user: MakeUser, container: Container
) -> None:
    late = {"kind": "serious_harm", "aware_at": "2026-01-05T10:00:00Z"}
    soon = {"kind": "critical_infrastructure", "aware_at": "2026-01-05T10:00:00Z"}
    a = client.post("/api/v1/systems/credit/incidents", json=late).json()
    b = client.post("/api/v1/systems/credit/incidents", json=soon).json()
    assert a["suspended_licenses"] == [] and a["last_day"] == "2026-01-20" and b["last_day"] == "2026-01-07"
    listed = client.get("/api/v1/incidents", params={"status": "open"}).json()["items"]
    assert [i["id"] for i in listed] == [b["id"], a["id"]] and all(i["overdue"] for i in listed)
    assert client.get(f"/api/v1/incidents/{a['id']}").json()["kind"] == "serious_harm"
    closed = client.post(f"/api/v1/incidents/{a['id']}/close", json={"note": "reported to BNetzA"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert client.post(f"/api/v1/incidents/{a['id']}/close", json={"note": "again"}).status_code == 409
    assert [i["id"] for i in client.get("/api/v1/incidents?status=open").json()["items"]] == [b["id"]]
    assert _audit(container, "incident.close")[0]["details"]["note"] == "reported to BNetzA"
    page = client.get(f"/api/v1/incidents/{a['id']}/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Art. 73(2)" in page.text and "2026-01-20" in page.text and world.digest in page.text
    assert "MISSING" in page.text and "EU database registration" in page.text  # never invented

    _, viewer = make_user("viewer")
    _, ml = make_user("ml-engineer")
    assert client.post("/api/v1/systems/credit/incidents", json=late, headers=bearer(viewer)).status_code == 403
    assert client.get("/api/v1/incidents", headers=bearer(viewer)).status_code == 200
    # suspending licenses needs license.manage, which an ML engineer lacks: refused, nothing recorded
    refused = client.post("/api/v1/systems/credit/incidents", json={**late, "suspend": True}, headers=bearer(ml))
    assert refused.status_code == 403
    assert len(client.get("/api/v1/incidents").json()["items"]) == 2


@SQLITE
def test_bad_input_is_a_clear_problem(client: TestClient, world: Licensed) -> None:
    bad_kind = client.post("/api/v1/systems/credit/incidents", json={"kind": "fire", "aware_at": "2026-01-05T10:00Z"})
    assert bad_kind.status_code == 422 and "kind" in bad_kind.text
    future = client.post("/api/v1/systems/credit/incidents", json={"kind": "death", "aware_at": "2999-01-01T00:00Z"})
    assert future.status_code in (400, 422) and future.json()["field"] == "aware_at"
    # before the AI Act entered into force (a typo, or a JSON number read as seconds since 1970): refused
    for early in ("1900-12-04T10:00Z", 12345):
        r = client.post("/api/v1/systems/credit/incidents", json={"kind": "death", "aware_at": early})
        assert r.status_code == 422 and r.json()["field"] == "aware_at" and "2024-08-01" in r.json()["detail"], r.text
    # no time zone: the period ends at midnight *where the reporter is*, so Charter will not guess UTC
    for naive in ("2026-01-05T10:00", "2026-01-05"):
        r = client.post("/api/v1/systems/credit/incidents", json={"kind": "death", "aware_at": naive})
        assert r.status_code == 422 and r.json()["field"] == "aware_at" and "+01:00" in r.json()["detail"], r.text
    # the authority is a Member State's (Art. 73(1)): an ISO code outside the EU/EEA is refused, naming the field
    for code in ("XX", "US"):
        r = client.post(
            "/api/v1/systems/credit/incidents",
            json={"kind": "death", "aware_at": "2026-01-05T10:00Z", "member_state": code},
        )
        assert r.status_code == 422 and r.json()["field"] == "member_state" and code in r.json()["detail"], r.text
    missing = client.post("/api/v1/systems/nope/incidents", json={"kind": "death", "aware_at": "2026-01-05T10:00Z"})
    assert missing.status_code == 404
    assert client.get("/api/v1/incidents/inc_nope").status_code == 404
    assert client.get("/api/v1/incidents", params={"status": "pending"}).status_code in (400, 422)
    # a mistyped system is a 404 naming it, not an empty list that reads "no incidents"
    typo = client.get("/api/v1/incidents", params={"system": "credti"})
    assert typo.status_code == 404 and "credti" in typo.json()["detail"], typo.text


@SQLITE
def test_a_time_zone_puts_the_end_at_local_midnight_across_the_start_of_summer_time(
    client: TestClient, world: Licensed
) -> None:
    """Reg. 1182/71 Art. 3(2)(b): the period ends with the last hour of its last day, where it is counted. Aware on
    Saturday 2027-03-20 in Berlin (CET, +01:00); 15 days (Art. 73(2)) end on Sunday 2027-04-04, so on Monday
    2027-04-05 (Art. 3(4)); summer time began on 2027-03-28, so that day ends at 22:00 UTC, not 23:00."""
    body = {"kind": "serious_harm", "aware_at": "2027-03-20T10:00:00+01:00"}
    with pinned(datetime(2027, 3, 21, tzinfo=UTC)):  # a day after becoming aware
        zoned = client.post("/api/v1/systems/credit/incidents", json={**body, "time_zone": "Europe/Berlin"})
        offset = client.post("/api/v1/systems/credit/incidents", json=body)
    assert zoned.status_code == 201, zoned.text
    assert zoned.json()["last_day"] == "2027-04-05" and offset.json()["last_day"] == "2027-04-05"
    assert "ends at midnight Europe/Berlin" in zoned.json()["deadline_note"]
    with pinned(datetime(2027, 3, 21, tzinfo=UTC)):  # a local time without an offset, read in the zone given
        local = client.post(
            "/api/v1/systems/credit/incidents",
            json={**body, "aware_at": "2027-03-20T10:00:00", "time_zone": "Europe/Berlin"},
        )
    assert local.status_code == 201, local.text
    assert datetime.fromisoformat(local.json()["aware_at"]) == datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    assert local.json()["due_at"] == zoned.json()["due_at"]
    assert datetime.fromisoformat(zoned.json()["due_at"]) == datetime(2027, 4, 5, 22, 0, tzinfo=UTC)
    assert datetime.fromisoformat(offset.json()["due_at"]) == datetime(2027, 4, 5, 23, 0, tzinfo=UTC)
    with pinned(datetime(2027, 3, 21, tzinfo=UTC)):
        for bad in ("Mars/Olympus", "../../etc/passwd", ""):
            r = client.post("/api/v1/systems/credit/incidents", json={**body, "time_zone": bad})
            assert r.status_code == 422 and r.json()["field"] == "time_zone", r.text
            assert "Europe/Berlin" in r.json()["detail"]


@SQLITE
@pytest.mark.skipif(find_chromium() is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_art_73_report_as_pdf(client: TestClient, world: Licensed) -> None:
    """The issue asks for the Art. 73 report as HTML *and* PDF (rendered like the Annex IV dossier)."""
    body = {"kind": "death", "aware_at": "2026-01-05T10:00:00Z", "member_state": "DE"}
    inc = client.post("/api/v1/systems/credit/incidents", json=body).json()
    r = client.get(f"/api/v1/incidents/{inc['id']}/report.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert f'filename="{inc["id"]}-art-73.pdf"' in r.headers["content-disposition"]
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
    assert "Art. 73(4)" in text and inc["id"] in text
    assert client.get("/api/v1/incidents/inc_nope/report.pdf").status_code == 404
