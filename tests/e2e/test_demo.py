"""`charter init` + `charter demo` in a fresh data dir: every state the dashboard shows exists, the people can log in
with what the demo printed, a second run changes nothing, and the audit log that saw it all verifies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from charter import bootstrap
from charter.audit.export import verify_database
from charter.audit.tables import AuditEntryRow
from charter.auth import service as auth_service
from charter.bootstrap import Container, InitResult
from charter.demo import monitoring
from charter.server import Dispatcher
from charter.settings import Settings
from tests.support.db import env_for
from tests.support.server import cli

pytestmark = pytest.mark.e2e
API = "/api/v1"


@pytest.fixture
def demo(settings: Settings, initialised: InitResult) -> Iterator[tuple[dict[str, Any], float, Container]]:
    env = env_for(settings)
    started = time.perf_counter()
    r = cli(env, "demo", "--json")
    elapsed = time.perf_counter() - started
    assert r.returncode == 0, r.stderr[-3000:]
    c = bootstrap.build(settings)
    try:
        yield json.loads(r.stdout), elapsed, c
    finally:
        c.close()


def audit_count(c: Container) -> int:
    with c.uow(write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditEntryRow)) or 0)


def test_demo_loads_every_state_once(demo: tuple[dict[str, Any], float, Container], settings: Settings) -> None:
    doc, elapsed, c = demo
    assert doc["loaded"] is True
    assert elapsed < 60, f"charter demo took {elapsed:.1f} s"
    logins = {x["name"]: x for x in doc["logins"]}
    assert {"ada", "mara", "sam", "lena", "sekou", "louise", "eti", "priya", "audrey"} <= set(logins)
    assert all(x["key"] for x in logins.values())
    before = audit_count(c)

    with TestClient(Dispatcher(c)) as client:
        mara = {"Authorization": f"Bearer {logins['mara']['key']}"}
        systems = {s["name"]: s for s in client.get(f"{API}/systems", headers=mara).json()["items"]}
        assert {n: s["risk_tier"] for n, s in systems.items()} == {
            "credit-scoring": "high",
            "support-chatbot": "limited",
            "doc-classifier": "minimal",
        }
        assert systems["credit-scoring"]["annex_iii_area"] and systems["credit-scoring"]["personal_data"]

        lineage = client.get(f"{API}/lineage/credit-scoring@2.0.0", headers=mara)
        assert lineage.status_code == 200, lineage.text
        tree = json.dumps(lineage.json())
        assert "loan-applications-raw@1" in tree and "loan-validation@1" in tree
        assert lineage.json()["provenance"]["complete"] is True
        gap = client.get(f"{API}/lineage/doc-classifier@1.0", headers=mara).json()
        assert gap["provenance"]["complete"] is False and gap["provenance"]["issues"]

        verdicts = {}
        for version in ("1.0.0", "2.0.0"):
            items = client.get(f"{API}/systems/credit-scoring/versions/{version}/assessments", headers=mara)
            assert items.status_code == 200, items.text
            verdicts[version] = items.json()["items"][0]
        assert verdicts["1.0.0"]["verdict"] == "fail" and "ETH-DP-DIFF" in verdicts["1.0.0"]["blockers"]
        assert verdicts["2.0.0"]["verdict"] == "pass"

        lics = client.get(f"{API}/licenses", headers=mara).json()["items"]
        states = sorted(lic["state"] for lic in lics)
        expected = ["active", "rejected", "requested", "requested", "revoked", "suspended"]
        if monitoring.available():  # the drift breach suspended the partner pre-screening license by itself
            expected = sorted([*expected, "suspended"])
            auto = next(lic for lic in lics if "partner-prescreening" in lic["purposes"])
            assert auto["state"] == "suspended"
            assert any("breach" in note and "suspended" in note for note in doc["notes"]), doc["notes"]
        assert states == expected
        active = next(lic for lic in lics if lic["state"] == "active")
        assert active["model"] == "credit-scoring@2.0.0" and active["env"] == "production"

        deps = client.get(f"{API}/deployments", headers=mara).json()["items"]
        assert {d["name"] for d in deps} == {"credit-scoring", "support-chatbot"}

    with c.uow(write=False) as uow:  # the printed passwords are the dashboard logins
        for name in ("ada", "lena", "audrey"):
            assert auth_service.authenticate_password(uow, name, logins[name]["password"]).name == name

    report = verify_database(c.engine, public_raw=c.keys.audit.public_raw)
    assert report.ok, report.to_dict()
    with c.uow(write=False) as uow:
        actions = set(uow.session.scalars(select(AuditEntryRow.action)))
    assert {"system.register", "license.request", "license.suspend", "license.revoke", "deployment.create"} <= actions
    if monitoring.available():
        assert "monitoring.reference" in actions

    again = cli(env_for(settings), "demo", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["loaded"] is False
    assert audit_count(c) == before


def test_demo_needs_an_initialised_data_dir(tmp_path: Path) -> None:
    r = cli({"CHARTER_HOME": str(tmp_path / "home"), "CHARTER_ENVIRONMENT": "test"}, "demo")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: not_initialised:") and "charter init" in r.stderr
