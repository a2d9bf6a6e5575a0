"""Monitoring through the API on SQLite and PostgreSQL: reference profiles, window uploads, status, metric series,
chart data, breaches, sizes beyond the general body limit, and who may do what."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from charter.bootstrap import Container
from charter.monitoring import ProfileSpec, build_profile
from tests.conftest import MakeUser, bearer
from tests.integration.monitoring.support import monitored, profile_of, sketch_doc, table

BASE = "/api/v1/monitoring/systems/credit/versions/1.0"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _window(i: int, doc: Any, **source: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "start": (T0 + timedelta(days=i)).isoformat(),
        "end": (T0 + timedelta(days=i + 1)).isoformat(),
    }
    body["sketch"] = doc
    if source:
        body["source"] = {"name": f"w{i}.parquet", "sha256": f"{i:064x}", **source}
    return body


def _reference(client: TestClient, model: str, **extra: Any) -> dict[str, Any]:
    prof = profile_of(model_version=model)
    body = {"profile": prof.to_dict(), "source": {"name": "ref.parquet", "sha256": "a" * 64, "rows": 5000}, **extra}
    r = client.put(BASE + "/reference", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_reference_windows_status_and_series(client: TestClient, container: Container) -> None:
    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend", "perf.accuracy >= 0.6 => revoke"])
    ref = _reference(client, world.model, capture={"features": "$.features", "prediction": "$.score"})
    assert ref["digest"] == world.digest and ref["rows"] == 5000 and ref["profile"] is None
    assert ref["capture"] == {"enabled": True, "features": "$.features", "prediction": "$.score"}
    full = client.get(BASE + "/reference").json()
    assert full["profile"]["fingerprint"] == ref["fingerprint"]

    prof = profile_of(model_version=world.model)
    r = client.post(BASE + "/windows", json=_window(0, sketch_doc(prof, 3000, seed=2)))
    assert r.status_code == 201, r.text
    win = r.json()
    assert win["rows"] == 3000 and win["status"] in ("ok", "warn")
    assert {c["status"] for c in win["checks"]} == {"holds"}
    assert win["metrics"]["drift.psi_max"] < 0.25 and win["metrics"]["perf.accuracy"] > 0.6
    assert "drift.psi[income]" in win["metrics"] and "fairness.dp_diff[gender]" in win["metrics"]

    status = client.get(BASE + "/status").json()
    assert status["breached"] is False and status["window"]["id"] == win["id"]
    assert [c["status"] for c in status["conditions"]] == ["holds", "holds"]
    assert status["licenses"][0]["state"] == "active"

    # Drift in income: the suspend condition breaches, the license is suspended.
    r = client.post(BASE + "/windows", json=_window(1, sketch_doc(prof, 3000, seed=3, shift=3.0)))
    drifted = r.json()
    assert drifted["metrics"]["drift.psi[income]"] > 0.25
    suspend = next(c for c in drifted["checks"] if c["action"] == "suspend")
    assert suspend["status"] == "breached" and suspend["fired"] == "suspend" and suspend["outcome"] == "suspended"
    assert suspend["license_state"] == "suspended"
    lic = client.get(f"/api/v1/licenses/{world.license_id}").json()
    assert lic["state"] == "suspended" and lic["reason_category"] == "drift"

    series = client.get(BASE + "/metrics", params={"metric": ["drift.psi_max", "perf.accuracy"]}).json()["items"]
    by = {s["metric"]: [p["value"] for p in s["points"]] for s in series}
    assert len(by["drift.psi_max"]) == 2 and by["drift.psi_max"][1] > 0.25 > by["drift.psi_max"][0]
    everything = client.get(BASE + "/metrics").json()["items"]
    assert len(everything) > 20

    chart = client.get(BASE + "/series").json()
    assert chart["series"][0]["label"] == "drift.psi_max" and len(chart["x"]) == 2
    assert any(t["kind"] == "breach" and t["value"] == 0.25 for t in chart["thresholds"])
    assert [b["x"] for b in chart["breaches"]] == [chart["x"][1]]

    assert client.get(BASE + "/status").json()["breached"] is True
    items = client.get("/api/v1/monitoring/breaches").json()["items"]
    assert items[0]["license"] == world.license_id and items[0]["metric"] == "drift.psi_max"
    assert len(client.get(BASE + "/windows").json()["items"]) == 2
    assert client.get("/api/v1/monitoring/profiles").json()["items"][0]["model"] == world.model


def test_same_file_replaces_its_sketch_and_capture_like_sources_merge(client: TestClient, container: Container) -> None:
    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    _reference(client, world.model)
    prof = profile_of(model_version=world.model)
    first = client.post(BASE + "/windows", json=_window(0, sketch_doc(prof, 1500, seed=2), rows=1500)).json()
    again = client.post(BASE + "/windows", json=_window(0, sketch_doc(prof, 1500, seed=2), rows=1500)).json()
    assert again["id"] == first["id"] and again["rows"] == 1500  # the same file never counts twice
    other = _window(0, sketch_doc(prof, 500, seed=4))
    other["source"] = {"name": "more.parquet", "sha256": "b" * 64}
    merged = client.post(BASE + "/windows", json=other).json()
    assert merged["rows"] == 2000 and len(merged["sources"]) == 2
    sdk = {**_window(0, sketch_doc(prof, 100, seed=5)), "kind": "sdk"}
    client.post(BASE + "/windows", json=sdk)
    assert client.post(BASE + "/windows", json=sdk).json()["rows"] == 2200  # SDK deltas add up


def test_bodies_beyond_the_general_limit_and_gzip(client: TestClient, container: Container) -> None:
    monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    wide = table(4000, seed=1)
    for i in range(40):
        wide = wide.append_column(f"x{i}", wide.column("income"))
    spec = ProfileSpec(numeric=tuple(f"x{i}" for i in range(40)), prediction="score")
    doc = {"profile": build_profile(wide, spec).to_dict(), "source": {"name": "wide.parquet", "sha256": "c" * 64}}
    raw = json.dumps(doc).encode()
    assert len(raw) > container.settings.max_body_bytes
    r = client.put(BASE + "/reference", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    r = client.put(BASE + "/reference", content=gzip.compress(raw), headers=headers)
    assert r.status_code == 200, r.text
    r = client.put(BASE + "/reference", content=b"not gzip", headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_encoding"
    r = client.put(BASE + "/reference", json={"profile": {}, "source": {"name": "x", "sha256": "bad"}})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    # Other API routes keep the general limit.
    r = client.post("/api/v1/systems", content=b"{" + b" " * (container.settings.max_body_bytes + 10) + b"}")
    assert r.status_code == 413


def test_mismatched_sketches_and_bad_windows_are_refused(client: TestClient, container: Container) -> None:
    monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    r = client.post(BASE + "/windows", json=_window(0, {"fingerprint": "x"}))
    assert r.status_code == 404 and r.json()["code"] == "profile_not_found"
    _reference(client, "credit@1.0")
    other = profile_of(seed=9)
    r = client.post(BASE + "/windows", json=_window(0, sketch_doc(other, 100, seed=2)))
    assert r.status_code == 422 and r.json()["code"] == "profile_mismatch"
    body = _window(0, sketch_doc(profile_of(), 100, seed=2))
    body["end"] = body["start"]
    assert client.post(BASE + "/windows", json=body).status_code == 422
    body = _window(0, sketch_doc(profile_of(), 100, seed=2))
    body["start"] = "2026-11-01T00:00:00"
    assert client.post(BASE + "/windows", json=body).status_code == 422
    prof = profile_of(model_version="credit@9.9").to_dict()
    r = client.put(BASE + "/reference", json={"profile": prof, "source": {"name": "r", "sha256": "a" * 64}})
    assert r.status_code == 422 and r.json()["code"] == "profile_model_mismatch"
    huge = build_profile(table(30_000, seed=1), ProfileSpec(numeric=("income",), bins=10, grid=20_000)).to_dict()
    r = client.put(BASE + "/reference", json={"profile": huge, "source": {"name": "r", "sha256": "a" * 64}})
    assert r.status_code == 422 and r.json()["code"] == "profile_too_large"


def test_permissions(client: TestClient, container: Container, make_user: MakeUser) -> None:
    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    _, ml = make_user("ml-engineer")
    _, viewer = make_user("viewer")
    _, senior = make_user("senior-engineer")
    _, scoped = make_user("viewer", scope="system:other")
    prof = profile_of(model_version=world.model)
    body = {"profile": prof.to_dict(), "source": {"name": "ref.parquet", "sha256": "a" * 64}}
    assert client.put(BASE + "/reference", json=body, headers=bearer(viewer)).status_code == 403
    # The system holds a production license: only a senior engineer may replace its reference.
    assert client.put(BASE + "/reference", json=body, headers=bearer(ml)).status_code == 200
    r = client.put(BASE + "/reference", json=body, headers=bearer(ml))
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert client.put(BASE + "/reference", json=body, headers=bearer(senior)).status_code == 200
    window = _window(0, sketch_doc(prof, 200, seed=2))
    assert client.post(BASE + "/windows", json=window, headers=bearer(viewer)).status_code == 403
    assert client.post(BASE + "/windows", json=window, headers=bearer(ml)).status_code == 201
    assert client.get(BASE + "/status", headers=bearer(viewer)).status_code == 200
    assert client.get(BASE + "/status", headers=bearer(scoped)).status_code == 403
    assert client.get("/api/v1/monitoring/windows", headers=bearer(scoped)).json()["items"] == []
    assert len(client.get("/api/v1/monitoring/windows", headers=bearer(viewer)).json()["items"]) == 1
