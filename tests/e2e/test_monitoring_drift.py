"""Monitoring for real: `charter serve` in front of a tabular model server on loopback.

Gateway path: baseline traffic → a window whose condition holds → drift injected in one feature → the condition
breaches → the license is suspended automatically → the next gateway call is refused → the audit entries link the
window, the metric, the threshold and the license. Upload path: `charter monitor ingest` of windows (with late
labels; Parquet and CSV) → `after 2 windows` persistence → suspension. The CLI builds the reference profile.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute
import pytest
from aiohttp import web
from sqlalchemy import select

from charter import bootstrap
from charter.audit.tables import AuditEntryRow
from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.integration.monitoring.support import Monitored, monitored, table, write
from tests.support.db import admin_key, env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.server import Server, cli, cli_in_process

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
WINDOW_S = 8.0
FEATURES = ("age", "income", "region", "gender")


class ModelServer(FakeUpstream):
    """A tabular model: POST /predict {"instances": [{features}]} → {"scores": [...]}."""

    def _app(self) -> web.Application:
        app = super()._app()
        app.router.add_post("/predict", self._predict)
        return app

    async def _predict(self, request: web.Request) -> web.Response:
        self._seen(request)
        body = await request.json()
        scores = [1 / (1 + math.exp(-(float(r["age"]) - 40) / 10)) for r in body["instances"]]
        return web.json_response({"scores": scores, "model": "credit-v1"})


def _world(settings: Settings, system: str, conditions: list[str]) -> Monitored:
    c = bootstrap.build(settings)
    try:
        return monitored(c, system=system, conditions=conditions)
    finally:
        c.close()


def _entries(settings: Settings, action: str) -> list[dict[str, Any]]:
    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            rows = uow.session.scalars(select(AuditEntryRow.body).where(AuditEntryRow.action == action))
            return [json.loads(bytes(b)) for b in rows]
    finally:
        c.close()


def _suspended_at(settings: Settings, license_id: str) -> float:
    """When the suspension committed (its audit entry's time), as a Unix time."""
    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            ts = uow.session.scalar(
                select(AuditEntryRow.ts).where(
                    AuditEntryRow.action == "license.suspend", AuditEntryRow.resource == f"license:{license_id}"
                )
            )
    finally:
        c.close()
    assert ts is not None
    return float(ts.timestamp())


def _ok(r: Any) -> dict[str, Any]:
    assert r.returncode == 0, r.stdout + r.stderr
    return dict(json.loads(r.stdout))


def _cli_in(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`charter ARGS` run in `cwd` (where `monitor reference` looks for the evaluation's data file), in this process."""
    cwd.mkdir(exist_ok=True)
    return cli_in_process(env, *args, cwd=cwd)


def _call(url: str, key: str, instances: list[dict[str, Any]]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}
    return httpx.post(url + "/gw/credit-http/predict", json={"instances": instances}, headers=headers, timeout=10)


def _traffic(t: pa.Table) -> list[list[dict[str, Any]]]:
    rows = [{k: r[k] for k in FEATURES} for r in t.to_pylist()]
    return [rows[i : i + 250] for i in range(0, len(rows), 250)]


def _next_window() -> None:
    """Sleep until just after the next capture window starts."""
    now = time.time()
    time.sleep(math.floor(now / WINDOW_S) * WINDOW_S + WINDOW_S + 0.3 - now)


def _wait(what: str, probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_drift_suspends_a_license_through_the_gateway_and_through_uploads(
    settings: Settings, initialised: InitResult, tmp_path: Path
) -> None:
    env = {
        **env_for(settings),
        "CHARTER_MONITOR_WINDOW_S": str(WINDOW_S),
        "CHARTER_MONITOR_FLUSH_S": "0.3",
        "CHARTER_MONITOR_CHECK_S": "2",
    }
    admin = admin_key(initialised)
    live = _world(settings, "credit", ["drift.psi_max < 0.25 => suspend"])
    batch = _world(
        settings, "loans", ["drift.psi_max < 0.25 => suspend after 2 windows", "perf.accuracy >= 0.6 => revoke"]
    )
    reference = write(tmp_path / "reference.parquet", table(5000, seed=1))
    with ModelServer() as model:
        server = Server(env, log=tmp_path / "serve.log").start(timeout=90)
        gateway = Server(env, command="gateway", log=tmp_path / "gateway.log").start(timeout=90)
        try:
            env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin}
            prof = _ok(  # a real process; the other calls run the CLI's main() in this one
                cli(env, "monitor", "reference", live.model, str(reference), "--prediction", "score", "--label", "y",
                    "--sensitive", "gender", "--capture-features", "$.instances", "--capture-prediction", "$.scores",
                    "--json")
            )  # fmt: skip
            assert prof["rows"] == 5000 and prof["digest"] == live.digest
            assert prof["spec"]["numeric"] == ["age", "income"]  # the id column is not a feature
            assert prof["spec"]["categorical"] == ["region", "gender"]
            _ok(cli_in_process(env, "deployment", "add", "credit-http", "--model", live.model, "--env", "production",
                    "--upstream", model.url, "--kind", "http", "--json"))  # fmt: skip
            urls = (server.url, gateway.url)  # the embedded gateway and a standalone `charter gateway`
            for url in urls:
                _wait("the deployment", lambda u=url: _call(u, live.app_key, _traffic(table(1, seed=0))[0]).is_success)

            # Baseline traffic through both processes: one window (one row, both flushes merged), the condition holds.
            _next_window()
            for n, instances in enumerate(_traffic(table(1500, seed=2))):
                assert _call(urls[n % 2], live.app_key, instances).status_code == 200

            def baseline() -> dict[str, Any] | None:
                doc = json.loads(cli_in_process(env, "monitor", "status", live.model, "--json").stdout)
                w = doc.get("window")
                return doc if w and w["rows"] >= 1500 and doc["conditions"][0]["status"] == "holds" else None

            first = _wait("a baseline window", baseline)
            assert first["breached"] is False and first["licenses"][0]["state"] == "active"
            assert first["window"]["rows"] == 1500 and first["window"]["sources"] == ["capture"]

            # Drift in one feature: income moves by several σ. Each process refuses once the license is suspended.
            _next_window()
            refused: dict[str, float] = {}
            for n, instances in enumerate(_traffic(table(1500, seed=3, shift=3))):
                url = urls[n % 2]
                status_code = _call(url, live.app_key, instances).status_code
                assert status_code in (200, 403) and (n > 0 or status_code == 200)
                if status_code == 403:
                    refused.setdefault(url, time.time())
            deadline = time.monotonic() + 30
            while len(refused) < 2 and time.monotonic() < deadline:
                for url in urls:
                    if url not in refused:
                        r = _call(url, live.app_key, _traffic(table(10, seed=4))[0])
                        if r.status_code == 403:
                            refused[url] = time.time()
                            assert r.json()["code"] == "license_suspended"
                            assert r.json()["license_id"] == live.license_id
                time.sleep(0.05)
            assert set(refused) == set(urls), "a gateway kept serving the drifting model"
            assert _ok(cli_in_process(env, "license", "show", live.license_id, "--json"))["state"] == "suspended"

            status = cli_in_process(env, "monitor", "status", live.model, "--json")
            assert status.returncode == 1, status.stdout + status.stderr  # a breached condition says no
            doc = json.loads(status.stdout)
            breached = doc["conditions"][0]
            assert breached["status"] == "breached" and breached["fired"] == "suspend" and breached["observed"] > 0.25
            series = _ok(cli_in_process(env, "monitor", "metrics", live.model, "--metric", "drift.psi_max", "--json"))[
                "items"
            ]
            values = [p["value"] for p in series[0]["points"]]
            assert values[-1] > 0.25 > values[-2]
            human = cli_in_process(env, "monitor", "status", live.model)
            assert "BREACHED" in human.stdout and "suspended" in human.stdout

            # Upload path. The reference defaults to the evaluation's data file (found by name and sha256) and
            # takes its columns from the evaluation; then late labels, Parquet and CSV windows, persistence.
            scored = table(5000, seed=1)
            scored = scored.append_column("pred", pa.compute.greater(scored.column("score"), 0.5).cast(pa.int64()))
            write(tmp_path / "holdout.parquet", scored)
            ev = cli_in_process(env, "evaluate", batch.model, "--predictions", str(tmp_path / "holdout.parquet"),
                                "--label", "y", "--prediction", "pred", "--score", "score", "--sensitive", "gender",
                                "--json")  # fmt: skip
            assert ev.returncode in (0, 1), ev.stdout + ev.stderr
            ref2 = _ok(_cli_in(tmp_path, env, "monitor", "reference", batch.model, "--json"))
            assert ref2["source"]["name"] == "holdout.parquet" and ref2["source"]["evaluation"].startswith("evl_")
            spec = ref2["spec"]
            assert (spec["prediction"], spec["prediction_kind"], spec["label"]) == ("score", "probability", "y")
            assert spec["sensitive"] == ["gender"] and spec["numeric"] == ["age", "income"]  # not id, not pred
            missing = _cli_in(tmp_path / "elsewhere", env, "monitor", "reference", batch.model)
            assert missing.returncode == 2 and "reference_data_required" in missing.stderr
            days = ["2026-11-01T00:00/2026-11-02T00:00", "2026-11-02T00:00/2026-11-03T00:00", "2026-11-03/2026-11-04"]
            results = []
            for i, (day, shift) in enumerate(zip(days, (0.0, 3.0, 3.0), strict=True)):
                t = table(3000, seed=10 + i, shift=shift)
                labels = write(tmp_path / f"labels{i}.parquet", t.select(["id", "y"]))
                suffix = ".csv" if i == 2 else ".parquet"
                window = write(tmp_path / f"window{i}{suffix}", t.drop_columns(["y"]))
                results.append(
                    _ok(cli_in_process(env, "monitor", "ingest", batch.model, str(window), "--window", day,
                            "--labels", str(labels), "--id-column", "id", "--json"))
                )  # fmt: skip
            checks = [{c["action"]: c for c in w["checks"]} for w in results]
            assert [w["rows"] for w in results] == [3000, 3000, 3000]
            assert (
                results[0]["metrics"]["perf.accuracy"] > 0.6 and results[0]["metrics"]["window.labelled_rows"] == 3000
            )
            assert [c["suspend"]["status"] for c in checks] == ["holds", "breached", "breached"]
            assert [c["suspend"]["fired"] for c in checks] == [None, None, "suspend"]
            assert checks[2]["suspend"]["outcome"] == "suspended"
            assert _ok(cli_in_process(env, "license", "show", batch.license_id, "--json"))["state"] == "suspended"
            again = _ok(cli_in_process(env, "monitor", "ingest", batch.model, str(tmp_path / "window2.csv"),
                                       "--window", days[2], "--json"))  # fmt: skip
            assert again["id"] == results[2]["id"] and again["rows"] == 3000  # the same file replaces its sketch
            human = cli_in_process(env, "monitor", "windows", batch.model)
            assert human.returncode == 0 and "2026-11-03 00:00" in human.stdout and "3,000" in human.stdout
        finally:
            gateway.stop()
            server.stop()

    suspended_at = _suspended_at(settings, live.license_id)
    for url, at in refused.items():
        assert at - suspended_at < 1.0, f"{url} refused {at - suspended_at:.2f} s after the suspension"
    suspensions = {e["resource"]: e for e in _entries(settings, "license.suspend")}
    evidence = suspensions[f"license:{live.license_id}"]["details"]["evidence"]
    assert evidence["window"] == doc["window"]["id"] and evidence["metric"] == "drift.psi_max"
    assert evidence["threshold"] == 0.25 and evidence["observed"] > 0.25 and evidence["license"] == live.license_id
    assert evidence["condition"] == "drift.psi_max < 0.25 => suspend"
    assert suspensions[f"license:{live.license_id}"]["actor"] == "system:charter"
    assert suspensions[f"license:{batch.license_id}"]["details"]["evidence"]["consecutive"] == 2
    breaches = [e for e in _entries(settings, "monitoring.breach") if e["resource"] == f"license:{live.license_id}"]
    assert breaches and breaches[0]["details"]["window"] == evidence["window"]
    verify = cli(env_for(settings), "audit", "verify", "--json")  # a real process
    assert verify.returncode == 0, verify.stdout + verify.stderr
