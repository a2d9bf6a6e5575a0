"""A compliant high-risk credit-scoring system (the shipped example) and evidence computed as the CLI does."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from charter.audit.tables import AuditEntryRow
from charter.bootstrap import Container
from charter.catalog.card import read_card
from charter.catalog.questionnaire import example
from charter.evaluation import build_evaluation_evidence, evaluate_predictions, load_predictions, scan_path
from charter.evaluation.tables import AssessmentRow, EvaluationRow
from charter.policies.tables import PolicyRow

API = "/api/v1"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-scoring"
MODEL = EXAMPLE / "model.safetensors"
REF = "credit-scoring@1.0.0"
VERSIONS = f"{API}/systems/credit-scoring/versions/1.0.0"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def answers() -> dict[str, Any]:
    doc = example()
    doc["annex_iii"]["point"] = "5(b)"
    doc["context"].update(decisions_about_persons=True, deployment_context=["consumer"])
    doc["data"]["personal_data"] = True
    return doc


def register_credit_scoring(client: TestClient, *, team: str = "risk") -> dict[str, Any]:
    """System, training dataset with lineage, and model version 1.0.0 (the example's artifact and card)."""
    assert client.post(f"{API}/teams", json={"name": team}).status_code == 201
    system = {
        "name": "credit-scoring",
        "purpose": "Consumer creditworthiness",
        "team": team,
        "answers": answers(),
        "human_oversight": "A credit officer reviews every rejection and can override it.",
        "dpia_reference": "DPIA-2026-014",
        "log_retention_days": 365,
        "access_restricted": True,
    }
    r = client.post(f"{API}/systems", json=system)
    assert r.status_code == 201, r.text
    dataset = {
        "name": "credit-applicants",
        "digest": "sha256:" + "c" * 64,
        "license": "CC0-1.0",
        "lawful_basis": "contract",
        "personal_data": True,
    }
    assert client.post(f"{API}/datasets", json=dataset).status_code == 201
    digest = sha256(MODEL)
    files = [{"path": MODEL.name, "size": MODEL.stat().st_size, "sha256": digest}]
    body = {
        "version": "1.0.0",
        "digest": f"sha256:{digest}",
        "size_bytes": MODEL.stat().st_size,
        "files": files,
        "format": "safetensors",
        "card": read_card(EXAMPLE / "MODEL_CARD.md"),
    }
    r = client.post(f"{API}/systems/credit-scoring/versions", json=body)
    assert r.status_code == 201, r.text
    link = {"dataset": "credit-applicants", "model": REF, "role": "training"}
    assert client.post(f"{API}/lineage", json=link).status_code == 201
    model: dict[str, Any] = r.json()
    return model


@lru_cache(maxsize=4)
def _evidence(name: str) -> tuple[tuple[str, Any], ...]:
    path = EXAMPLE / f"predictions_{name}.csv"
    data = load_predictions(path, score="p", sensitive=["gender", "age_band"])
    evidence = build_evaluation_evidence(predictions=evaluate_predictions(data, resamples=20), scan=scan_path(MODEL))
    evidence.pop("documentation")
    inputs = {
        "predictions": {"name": path.name, "sha256": sha256(path), "size": path.stat().st_size, "rows": data.n},
        "artifact": {"name": MODEL.name, "sha256": sha256(MODEL), "size": MODEL.stat().st_size},
    }
    return tuple({"evidence": evidence, "inputs": inputs}.items())


def evaluation_body(name: str) -> dict[str, Any]:
    """The body `charter evaluate` posts for predictions_{name}.csv (biased or mitigated) and the artifact."""
    import copy

    body = copy.deepcopy(dict(_evidence(name)))
    body["options"] = {"label": "y", "prediction": "y_hat", "score": "p", "sensitive": ["gender", "age_band"]}
    return body


def upload_parts(name: str, *, resamples: int = 20, path: Path | None = None) -> dict[str, Any]:
    """What `charter evaluate --upload` sends for predictions_{name}.csv: the file, the options and the artifact scan
    (keyword arguments for `TestClient.post`)."""
    body = evaluation_body("mitigated")
    path = path or EXAMPLE / f"predictions_{name}.csv"
    meta = {
        "options": {**body["options"], "bootstrap_resamples": resamples},
        "evidence": {"scan": body["evidence"]["scan"]},
        "inputs": {"artifact": body["inputs"]["artifact"]},
    }
    return {"files": {"predictions": (path.name, path.read_bytes(), "text/csv")}, "data": {"meta": json.dumps(meta)}}


def counts(container: Container) -> dict[str, int]:
    """Rows of every table this domain writes, and audit entries."""
    with container.uow(write=False) as uow:
        s = uow.session
        return {
            t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (PolicyRow, EvaluationRow, AssessmentRow, AuditEntryRow)
        }


def audit_actions(container: Container) -> list[tuple[str, str, dict[str, Any]]]:
    with container.uow(write=False) as uow:
        rows = uow.session.execute(
            select(AuditEntryRow.action, AuditEntryRow.resource, AuditEntryRow.body).order_by(AuditEntryRow.seq)
        )
        return [(a, r, dict(json.loads(b).get("details") or {})) for a, r, b in rows.tuples()]


@pytest.fixture
def credit(client: TestClient) -> dict[str, Any]:
    return register_credit_scoring(client)
