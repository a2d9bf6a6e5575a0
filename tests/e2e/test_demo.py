"""`charter init` + `charter demo` in a fresh data dir: every state the dashboard shows exists, the people can log in
with what the demo printed, a second run changes nothing, and the audit log that saw it all verifies."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
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
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container, InitResult
from charter.demo import monitoring
from charter.licenses import service as licenses_service
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
    r = cli({"CHARTER_HOME": str(tmp_path / "home")}, "demo")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: not_initialised:") and "charter init" in r.stderr


def test_demo_on_a_relative_data_dir_prints_exports_and_reruns_helpfully(
    settings: Settings, initialised: InitResult
) -> None:
    """The default data dir is the relative `.charter`: the demo's file URIs must not need an absolute path. The
    first run prints `export NAME_KEY=…` lines; a second one says what exists and how to get new logins, and
    prints no secret; `--new-logins` prints working ones."""
    env = {**os.environ, **env_for(settings), "CHARTER_HOME": settings.home.name, "COLUMNS": "80"}

    def demo(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "charter", "demo", *args]
        return subprocess.run(cmd, cwd=settings.home.parent, env=env, capture_output=True, text=True, timeout=300)

    first = demo()
    assert first.returncode == 0, first.stderr[-3000:]
    exports = dict(re.findall(r"^export ([A-Z_]+)=(chk_\S+)$", first.stdout, re.M))
    assert {"ADA_KEY", "LENA_KEY", "LOAN_PORTAL_KEY", "SUPPORT_WIDGET_KEY"} <= set(exports), first.stdout
    # where to sign in: the URL the CLI uses (CHARTER_URL, else loopback on CHARTER_PORT), not "start the server"
    assert f"Open the dashboard at {env.get('CHARTER_URL', 'http://127.0.0.1:')}" in first.stdout, first.stdout
    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            assert auth_service.authenticate(uow, exports["LOAN_PORTAL_KEY"]).name == "loan-portal"
        before = audit_count(c)
        again = demo()
        assert again.returncode == 0, again.stderr
        assert "already loaded" in again.stdout and "charter demo --new-logins" in again.stdout
        assert "chk_" not in again.stdout and "password:" not in again.stdout
        assert audit_count(c) == before
        fresh = demo("--new-logins")
        assert fresh.returncode == 0, fresh.stderr
        keys = dict(re.findall(r"^export ([A-Z_]+)=(chk_\S+)$", fresh.stdout, re.M))
        assert keys["LENA_KEY"] != exports["LENA_KEY"]
        with c.uow(write=False) as uow:
            assert auth_service.authenticate(uow, keys["LENA_KEY"]).name == "lena"
            assert auth_service.authenticate(uow, exports["LENA_KEY"]).name == "lena"  # old keys keep working
    finally:
        c.close()


def test_an_interrupted_demo_is_completed_by_the_next_run(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_load = importlib.import_module("charter.demo.load")  # the module; `charter.demo.load` is also a function
    real = demo_load._chatbot

    def crash(ld: Any) -> None:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(demo_load, "_chatbot", crash)
    with pytest.raises(RuntimeError):
        demo_load.load(container)
    monkeypatch.setattr(demo_load, "_chatbot", real)
    result = demo_load.load(container)
    assert result.loaded and result.resumed
    with container.uow(write=False) as uow:
        lics = licenses_service.list_licenses(uow, SYSTEM_ACTOR)
        for login in result.logins:  # the interrupted run's people got passwords that are printed now
            if login.password:
                assert auth_service.authenticate_password(uow, login.name, login.password).name == login.name
    expected = ["active", "rejected", "requested", "requested", "revoked", "suspended"]
    if monitoring.available():
        expected = sorted([*expected, "suspended"])
    assert sorted(lic.state for lic in lics) == expected  # nothing twice
    assert demo_load.load(container).loaded is False
