"""A reporting world built through the domain services: a documented high-risk system with data, an evaluation,
an active production license with its sign-offs, and a bare minimal-risk system with nothing filled in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, TeamCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.catalog.schemas import DatasetCreate, LineageLink, ModelVersionCreate, SystemCreate
from charter.evaluation import service as evaluation
from charter.evaluation.compute import ComputeOptions
from charter.evaluation.schemas import EvaluationCreate, InputFile, UploadMeta
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate, LicenseRead
from charter.signoffs.schemas import SignOffCreate
from tests.conftest import MakeUser
from tests.support.builders import document_obligations

FUNCTIONS = ("ml-lead", "security", "legal", "ethics", "privacy")
ARTIFACT = b"credit-scoring model weights v1"
DIGEST = "sha256:" + hashlib.sha256(ARTIFACT).hexdigest()
CARD: dict[str, Any] = {
    "intended_purpose": "Score consumer credit applications for a human underwriter.",
    "intended_users": "Underwriters of the retail lending team.",
    "limitations": "Not validated for business loans or applicants under 18.",
    "training_data": "Loan applications 2019-2023, see lineage.",
    "evaluation_data": "Hold-out applications from 2024.",
    "metrics": "Accuracy, ROC AUC and group fairness (demographic parity, equalized odds).",
    "human_oversight": "An underwriter confirms every refusal.",
    "risk_management": "Risk register RR-12 reviewed quarterly.",
    "cybersecurity": "Artifact signed and scanned; served only through the gateway.",
    "accuracy_robustness": "Stress-tested on shifted income distributions.",
    "logging": "Every decision is logged in the Charter audit log.",
    "contact": "ml-platform@example.com",
    "version": "1.0",
    "license": "Apache-2.0",
    "out_of_scope_uses": "Employment screening.",
    "harmonised_standards": "ISO/IEC 42001:2023 (AIMS); no harmonised standard published in the OJ yet.",
    "architecture": "Gradient-boosted trees, 400 estimators.",
}
EVIDENCE: dict[str, Any] = {
    "performance": {
        "accuracy": 0.912,
        "precision": 0.88,
        "recall": 0.86,
        "f1": 0.87,
        "roc_auc": 0.95,
        "calibration_error": 0.02,
        "n": 5000,
        "ci": {},
    },
    "fairness": {
        "sex": {
            "dp_diff": 0.04,
            "dp_ratio": 0.92,
            "eo_diff": 0.05,
            "disparate_impact": 0.92,
            "four_fifths_pass": True,
            "groups": {
                "female": {
                    "n": 2400,
                    "positives": 900,
                    "selection_rate": 0.41,
                    "tpr": 0.85,
                    "fpr": 0.06,
                    "accuracy": 0.91,
                    "insufficient_data": False,
                },
                "male": {
                    "n": 2600,
                    "positives": 1000,
                    "selection_rate": 0.45,
                    "tpr": 0.87,
                    "fpr": 0.07,
                    "accuracy": 0.915,
                    "insufficient_data": False,
                },
            },
        }
    },
    "fairness_summary": {
        "evaluated": True,
        "attributes": ["sex"],
        "dp_diff_max": 0.04,
        "eo_diff_max": 0.05,
        "disparate_impact_min": 0.92,
    },
    "scan": {"performed": True, "safe": True, "formats": ["safetensors"], "findings": []},
}


@dataclass
class ReportWorld:
    c: Container
    admin: Actor
    requester: Actor
    reviewers: dict[str, Actor] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def actor(self, key: str) -> Actor:
        with self.c.uow(write=False) as uow:
            return auth_service.authenticate(uow, key)

    def documented_system(self, name: str = "credit-scoring") -> str:
        """A high-risk system with a full card, complete provenance and a passing evaluation; returns SYSTEM@1.0."""
        with self.c.uow() as uow:
            catalog.register_system(
                uow,
                self.admin,
                SystemCreate.model_validate(
                    {
                        "name": name,
                        "purpose": "Creditworthiness assessment of consumer loan applicants.",
                        "team": "lending",
                        "deployer": "ACME Bank",
                        "human_oversight": "An underwriter reviews and can override every refusal.",
                        "dpia_reference": "DPIA-2024-07",
                        "log_retention_days": 400,
                        "access_restricted": True,
                        "answers": {
                            "prohibited": NO_PROHIBITED,
                            "annex_iii": {"point": "5(b)"},
                            "data": {"personal_data": True},
                        },
                    }
                ),
            )
        with self.c.uow() as uow:
            catalog.register_model_version(
                uow,
                self.admin,
                name,
                ModelVersionCreate(
                    version="1.0",
                    digest=DIGEST,
                    size_bytes=len(ARTIFACT),
                    framework="xgboost",
                    format="safetensors",
                    card=CARD,
                    license="Apache-2.0",
                    uri="s3://models/credit/1.0",
                ),
            )
        ref = f"{name}@1.0"
        for ds, role, extra in (
            ("applications", "training", {"lawful_basis": "contract", "personal_data": True}),
            ("holdout", "test", {"lawful_basis": "contract", "personal_data": True}),
        ):
            with self.c.uow() as uow:
                catalog.register_dataset(
                    uow,
                    self.admin,
                    DatasetCreate.model_validate(
                        {
                            "name": f"{name}-{ds}",
                            "digest": hashlib.sha256(ds.encode()).hexdigest(),
                            "license": "CC-BY-4.0",
                            "source": f"core banking export ({ds})",
                            "row_count": 5000,
                            **extra,
                        }
                    ),
                )
            with self.c.uow() as uow:
                catalog.link(uow, self.admin, LineageLink(dataset=f"{name}-{ds}", model=ref, role=role))
        document_obligations(self.c, ref)  # the FRIA and post-market plan activation requires
        self.evaluate(ref)
        return ref

    def evaluate(self, ref: str, evidence: dict[str, Any] | None = None, *, upload: bool = True) -> Any:
        """An evaluation with these figures: as the server computes them from an upload (the sections are given, not
        computed from a file), or self-reported (`upload=False`)."""
        evidence = evidence or EVIDENCE
        predictions = {"name": "preds.csv", "sha256": "a" * 64, "size": 100, "rows": 5000}
        artifact = {"name": "model.safetensors", "sha256": DIGEST.removeprefix("sha256:"), "size": 31}
        options = {"label": "y", "prediction": "p", "sensitive": ["sex"]}
        with self.c.uow() as uow:
            if upload:
                scan = {k: v for k, v in evidence.items() if k == "scan"}
                meta = UploadMeta.model_validate({"evidence": scan, "inputs": {"artifact": artifact}})
                sections = {k: v for k, v in evidence.items() if k != "scan"}
                computed = ComputeOptions(label="y", prediction="p", sensitive=("sex",))
                return evaluation.submit_computed(
                    uow, self.admin, ref, sections, InputFile.model_validate(predictions), computed, meta
                )
            body = {
                "evidence": evidence,
                "inputs": {"predictions": predictions, "artifact": artifact},
                "options": options,
            }
            return evaluation.submit_evaluation(uow, self.admin, ref, EvaluationCreate.model_validate(body))

    def bare_system(self, name: str = "chat-helper") -> str:
        """A minimal-risk system with one model version and nothing else."""
        with self.c.uow() as uow:
            catalog.register_system(
                uow,
                self.admin,
                SystemCreate.model_validate(
                    {"name": name, "purpose": "Answer FAQ", "answers": {"prohibited": NO_PROHIBITED}}
                ),
            )
        with self.c.uow() as uow:
            catalog.register_model_version(
                uow,
                self.admin,
                name,
                ModelVersionCreate(version="0.1", digest="b" * 64, size_bytes=1),
            )
        return f"{name}@0.1"

    def license(self, model: str, *, approve: bool = True) -> LicenseRead:
        body = {
            "model": model,
            "env": "production",
            "purposes": ["credit-decisioning"],
            "callers": ["app:loan-portal"],
            "days": 90,
            "conditions": ["fairness.dp_diff[sex] < 0.1 => suspend"],
        }
        with self.c.uow() as uow:
            lic = licenses.request(uow, self.requester, LicenseCreate.model_validate(body))
        if approve:
            for fn in lic.required_signoffs:
                with self.c.uow() as uow:
                    data = SignOffCreate(function=fn, comment=f"{fn} ok")
                    licenses.sign(uow, self.reviewers[fn], lic.id, data)
        with self.c.uow(write=False) as uow:
            return licenses.get(uow, self.admin, lic.id)


def build_world(c: Container, make_user: MakeUser) -> ReportWorld:
    with c.uow() as uow:
        auth_service.add_app(uow, SYSTEM_ACTOR, AppCreate(name="loan-portal"))
    with c.uow() as uow:
        auth_service.add_team(uow, SYSTEM_ACTOR, TeamCreate(name="lending"))
    w = ReportWorld(c=c, admin=SYSTEM_ACTOR, requester=SYSTEM_ACTOR)
    _, key = make_user("ml-engineer", name="rita")
    w.requester = w.actor(key)
    w.keys["rita"] = key
    for fn in FUNCTIONS:
        _, key = make_user(("reviewer", fn), name=f"rev-{fn}")
        w.reviewers[fn] = w.actor(key)
        w.keys[fn] = key
    return w
