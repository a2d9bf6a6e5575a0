"""Attestations (Art. 4, 17, 49: controls no rule can check) and per-system control status over the API."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.core.clock import pinned
from charter.reports.packcheck import verify_pack
from tests.conftest import MakeUser, bearer

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
NO = dict.fromkeys(
    [
        "manipulation",
        "exploiting_vulnerabilities",
        "social_scoring",
        "crime_prediction_profiling",
        "facial_scraping",
        "emotion_recognition_work_education",
        "biometric_categorisation_sensitive",
        "realtime_remote_biometric_id",
        "intimate_imagery",
        "csam",
    ],
    False,
)
EVIDENCE = b"AI literacy training 2026: 42 of 42 staff completed\n"


def _register(client: TestClient) -> None:
    body = {"name": "hiring", "purpose": "rank CVs", "answers": {"prohibited": NO, "annex_iii": {"point": "4(a)"}}}
    assert client.post("/api/v1/systems", json=body).status_code == 201


def _attestation(control: str = "EUAIA-ART4", days: int = 30, data: bytes = EVIDENCE, **extra: Any) -> dict[str, Any]:
    return {
        "control": control,
        "statement": "every operator completed the literacy course",
        "evidence_name": "training.csv",
        "evidence_sha256": hashlib.sha256(data).hexdigest(),
        "evidence_size": len(data),
        "evidence_b64": base64.b64encode(data).decode(),
        "valid_days": days,
        **extra,
    }


def _status(client: TestClient, control: str) -> dict[str, Any]:
    doc = client.get("/api/v1/systems/hiring/controls").json()
    return next(c for c in doc["controls"] if c["id"] == control)


@SQLITE
def test_attestation_turns_a_missing_control_green_then_red_when_it_expires(client: TestClient) -> None:
    """Art. 4 AI literacy: no rule checks it; an attestation with hashed, stored evidence covers it until it expires."""
    _register(client)
    before = _status(client, "EUAIA-ART4")
    assert before["status"] == "missing" and not before["ok"] and before["legal_status"] == "adopted_amendment"
    r = client.post("/api/v1/systems/hiring/attestations", json=_attestation())
    assert r.status_code == 201, r.text
    att = r.json()
    assert att["evidence_stored"] and att["evidence_sha256"] == "sha256:" + hashlib.sha256(EVIDENCE).hexdigest()
    assert att["attested_by"] == "user:admin" and not att["expired"]
    now = _status(client, "EUAIA-ART4")
    assert now["status"] == "attested" and now["ok"] and now["attestation"]["id"] == att["id"]
    with pinned() as clock:
        clock.advance(days=31)
        expired = _status(client, "EUAIA-ART4")
        assert expired["status"] == "expired" and not expired["ok"] and "expired on" in expired["why"]
        report = client.get("/api/v1/reports/systems/hiring")
        assert report.status_code == 200 and "EUAIA-ART4" in report.text and "EXPIRED" in report.text
        pack = client.get("/api/v1/reports/systems/hiring/pack")
        assert pack.status_code == 200, pack.text[:300]
    with zipfile.ZipFile(io.BytesIO(pack.content)) as zf:
        status = json.loads(zf.read("controls/status.json"))
        art4 = next(c for c in status["controls"] if c["id"] == "EUAIA-ART4")
        assert art4["status"] == "expired" and not art4["ok"]
        assert zf.read(f"controls/evidence/{att['id']}-training.csv") == EVIDENCE
    assert verify_pack(io.BytesIO(pack.content)).problems == []
    na = _status(client, "EUAIA-ART54")
    assert na["status"] == "not_applicable" and "gpai" in na["why"]
    listed = client.get("/api/v1/systems/hiring/attestations").json()["items"]
    assert [a["id"] for a in listed] == [att["id"]]


@SQLITE
def test_bad_attestations_are_refused_naming_the_field(client: TestClient, make_user: MakeUser) -> None:
    _register(client)
    url = "/api/v1/systems/hiring/attestations"
    wrong = client.post(url, json=_attestation(evidence_sha256="0" * 64))
    assert wrong.status_code == 422 and wrong.json()["field"] == "evidence_sha256"
    na = client.post(url, json=_attestation(control="EUAIA-ART54"))
    assert na.status_code == 422 and na.json()["field"] == "control" and "does not apply" in na.json()["detail"]
    unknown = client.post(url, json=_attestation(control="EUAIA-ART999"))
    assert unknown.status_code == 404
    # a file name, not a path: the stored evidence goes into evidence packs under this name
    for name in ("../../etc/passwd", "evidence/x.csv", "..\\boot.ini", "..", "a\tb"):
        r = client.post(url, json=_attestation(evidence_name=name))
        assert r.status_code == 422 and "evidence_name" in r.text, (name, r.text)
    # an absurd size is a 422 naming the field (it was a 500: the database integer overflowed)
    huge = client.post(url, json=_attestation(evidence_size=10**20, evidence_b64=None))
    assert huge.status_code == 422 and "evidence_size" in huge.text, huge.text
    too_long = client.post(url, json=_attestation(days=5000))
    assert too_long.status_code == 422 and "valid_days" in too_long.text
    _, viewer = make_user("viewer")
    _, legal = make_user(("reviewer", "legal"))
    assert client.post(url, json=_attestation(), headers=bearer(viewer)).status_code == 403
    ok = client.post(url, json=_attestation(control="EUAIA-ART17", days=365), headers=bearer(legal))
    assert ok.status_code == 201 and ok.json()["control"] == "EUAIA-ART17"
    assert client.get("/api/v1/systems/hiring/controls", headers=bearer(viewer)).status_code == 200
