"""A realistic world for the API fuzz, and one realistic request per operation.

The world is the demo (three systems' stories: models, datasets, lineage, evaluations, licenses in every state,
deployments, monitoring with a drift breach, people with every role and apps), plus what the destructive operations
consume on their own (a system to classify and patch, licenses to suspend and revoke, a version to retire, a
deployment to remove, a user, an app and a key to disable or revoke, a stored policy in two versions, a re-audit task).

`requests(world)` gives, per operation (`"METHOD /path"`), the path parameters that name real resources, the query
and body of one request that reaches the operation's logic, and who sends it. The fuzz sends that request first,
then generated ones with the same path parameters, so every operation is exercised on data that exists.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, KeyCreate, UserCreate
from charter.bootstrap import Container
from charter.catalog.documents import FRIA, SECTIONS
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.core.canonical import canonical_json
from charter.demo import monitoring as demo_monitoring
from charter.demo.load import load as load_demo
from charter.deployments import approvals
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.evaluation import service as evaluation
from charter.incidents import service as incidents
from charter.incidents.schemas import IncidentCreate
from charter.licenses import reaudit
from charter.licenses import service as licenses
from charter.monitoring import service as monitoring
from charter.monitoring.profile import ProfileSpec, ReferenceProfile, build_profile
from charter.monitoring.sketch import sketch_rows
from charter.policies import service as policies
from tests.reliability import stack
from tests.support.builders import assessed_model, user

OPEN = "fuzz-open"  # a system (and version 1.0) that operations may change freely
POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: {name}
  description: Extra rules for consumer credit scoring.
rules:
  - id: {rule}-ACCURACY
    title: Accuracy of at least {floor} for credit decisions
    severity: blocker
    when: system.risk_tier == 'high'
    check: performance.accuracy >= {floor}
    evidence: [performance.accuracy]
    controls: [EUAIA-ART15]
    remediation: Retrain until held-out accuracy reaches {floor}.
"""
THRESHOLDS = {"F": 0.5, "M": 0.5}


def policy(name: str, floor: str) -> str:
    return POLICY.format(name=name, floor=floor, rule=name.upper())


@dataclass
class Call:
    """One realistic request: path parameters, query, body (JSON unless `media`), and the identity sending it."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    media: str = "application/json"
    who: str = "admin"


@dataclass
class World:
    keys: dict[str, str]  # identity -> API key (admin, demo people by role, apps)
    licenses: dict[str, str]  # what -> license id
    ids: dict[str, str] = field(default_factory=dict)  # other seeded ids: assessment, task, key, evaluation body…
    bodies: dict[str, Any] = field(default_factory=dict)


def _license_id(labelled: dict[str, str], starts: str) -> str:
    return next(v.split()[0] for k, v in labelled.items() if k.startswith(starts))


def _digest() -> str:
    return "sha256:" + os.urandom(32).hex()


def _monitoring_bodies(ref: str) -> tuple[dict[str, Any], ReferenceProfile]:
    spec = ProfileSpec(
        numeric=("income_k", "debt_ratio", "history_years", "late_payments"),
        categorical=("age_band",),
        prediction="y_hat",
        prediction_kind="binary",
        label="y",
        sensitive=("gender",),
    )
    rows = demo_monitoring.applicants(400, 7, THRESHOLDS)
    profile = build_profile(rows, spec, model_version=ref)
    source = {"name": "reference.csv", "sha256": hashlib.sha256(b"reference").hexdigest(), "rows": 400}
    return {"profile": profile.to_dict(), "source": source}, profile


def _span(profile: ReferenceProfile, days_ago: int, seed: int) -> dict[str, Any]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    sketch = sketch_rows(profile, demo_monitoring.applicants(300, seed, THRESHOLDS, drift=0.1))
    return {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "sketch": sketch.to_dict()}


def seed(c: Container, admin_key: str) -> World:
    """Load the demo, then add what the destructive operations consume."""
    demo = load_demo(c)
    keys = {"admin": admin_key}
    for login in demo.logins:
        keys[login.name] = login.key
    lic = {
        "active": _license_id(demo.licenses, "credit-scoring@2.0.0 production (mitigated)"),
        "pending": _license_id(demo.licenses, "credit-scoring@2.0.0 staging"),
        "suspended": _license_id(demo.licenses, "support-chatbot@1.0"),
        "unapproved": _license_id(demo.licenses, "doc-classifier@1.0"),
    }
    requester = user(c, "fuzz-requester", "ml-engineer")
    reviewers: dict[str, Actor] = {}
    lic["to-suspend"] = stack.license_system(c, "fuzz-suspend", "minimal", requester, reviewers).license_id
    lic["to-revoke"] = stack.license_system(c, "fuzz-revoke", "minimal", requester, reviewers).license_id
    stack.license_system(c, "fuzz-retire", "minimal", requester, reviewers)
    _, open_digest = assessed_model(c, OPEN, answers={"prohibited": NO_PROHIBITED})
    world = World(keys=keys, licenses=lic)
    with c.uow() as uow:
        deployments.add(
            uow,
            SYSTEM_ACTOR,
            DeploymentCreate(name="fuzz-remove", model="fuzz-suspend@1.0", upstream="http://127.0.0.1:9/v1"),
            allow=c.settings.upstream_allowlist,
        )
    with c.uow() as uow:
        auth.add_user(uow, SYSTEM_ACTOR, UserCreate(name="fuzz-user"))
        auth.add_app(uow, SYSTEM_ACTOR, AppCreate(name="fuzz-app"))
    with c.uow() as uow:
        world.ids["key"] = auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="fuzz-user")).id
    for floor in ("0.8", "0.7"):
        with c.uow() as uow:
            policies.add_policy(uow, SYSTEM_ACTOR, source=policy("fuzz-credit", floor), filename="credit.yaml")
    with c.uow() as uow:
        policies.add_policy(uow, SYSTEM_ACTOR, source=policy("fuzz-retired", "0.5"), filename="retired.yaml")
    with c.uow() as uow:
        world.ids["task"] = reaudit.create(
            uow,
            actor_ref="system:charter",
            system="credit-scoring",
            kind=reaudit.PERIODIC,
            due_at=datetime.now(UTC) + timedelta(days=30),
            reason="fuzz: a re-audit to complete",
        ).id
        uow.commit()
    with c.uow(write=False) as uow:
        assessed = evaluation.list_assessments(uow, SYSTEM_ACTOR, "credit-scoring@2.0.0")
        world.ids["assessment"] = assessed[0].id
        detail = evaluation.get_assessment(uow, SYSTEM_ACTOR, assessed[0].id)
        stored = evaluation.list_evaluations(uow, SYSTEM_ACTOR, "credit-scoring@2.0.0")[0]
        target = licenses.get(uow, SYSTEM_ACTOR, lic["active"])
    client_sections = ("performance", "fairness", "fairness_summary", "scan")  # the rest comes from the catalog
    evidence = {k: v for k, v in detail.evidence.items() if k in client_sections}
    inputs = dict(stored.inputs)
    if "artifact" in inputs:  # the evidence is submitted for fuzz-open@1.0: its scan is of that artifact
        inputs["artifact"] = {**inputs["artifact"], "sha256": open_digest.removeprefix("sha256:")}
    world.bodies["evaluation"] = {"evidence": evidence, "inputs": inputs, "options": stored.options}
    world.bodies["reference"], profile = _monitoring_bodies(f"{OPEN}@1.0")
    world.bodies["window"] = {**_span(profile, 1, 11), "source": {"name": "w.csv", "sha256": "0" * 64, "rows": 300}}
    with c.uow(write=False) as uow:
        credit = monitoring.get_reference(uow, SYSTEM_ACTOR, "credit-scoring@2.0.0", full=True)
    assert credit.profile is not None
    world.bodies["capture"] = _span(ReferenceProfile.from_dict(credit.profile), 0, 12)
    world.ids["model"] = target.model
    _seed_obligations_and_approvals(c, world)
    return world


def _seed_obligations_and_approvals(c: Container, world: World) -> None:
    """An open incident, and two pending tool-call approvals (one to approve, one to deny)."""
    with c.uow() as uow:
        aware = datetime.now(UTC) - timedelta(hours=2)
        body = IncidentCreate(kind="serious_harm", aware_at=aware, description="fuzz: an incident to read and close")
        world.ids["incident"] = incidents.report(uow, SYSTEM_ACTOR, "credit-scoring", body).id
    for name in ("approval", "approval-deny"):
        with c.uow() as uow:
            args = {"amount": 120, "customer": name}
            world.ids[name] = approvals.ask(
                uow, license_id=world.licenses["active"], deployment="credit-scoring", tool="payments:refund",
                args=args, args_sha256=hashlib.sha256(canonical_json(args)).hexdigest(), agent="app:loan-portal",
                approver="role:admin",
            )  # fmt: skip


FRIA_SECTIONS = tuple(SECTIONS[FRIA])


def requests(w: World) -> dict[str, Call]:
    """A request per operation that reaches its logic on the seeded world."""
    credit = {"name": "credit-scoring", "version": "2.0.0"}
    credit_s = {"system": "credit-scoring", "version": "2.0.0"}
    open_v = {"name": OPEN, "version": "1.0"}
    open_s = {"system": OPEN, "version": "1.0"}
    lic = w.licenses

    def on(what: str) -> dict[str, str]:
        return {"license_id": lic[what]}

    reason = {"reason": "fuzz: a realistic reason"}
    return {
        "GET /audit/entries": Call(query={"action": "license.*", "limit": 5}, who="audrey"),
        "GET /audit/entries/{seq}": Call({"seq": "1"}, who="audrey"),
        "GET /audit/entries/{seq}/proof": Call({"seq": "1"}, who="audrey"),
        "GET /audit/proofs/consistency": Call(query={"first": 1}, who="audrey"),
        "GET /audit/checkpoints": Call(query={"limit": 2}, who="audrey"),
        "GET /audit/checkpoints/latest": Call(who="audrey"),
        "GET /audit/export": Call(query={"format": "csv"}, who="audrey"),
        "POST /systems": Call(body={"name": "fuzz-new", "purpose": "triage", "answers": {"prohibited": NO_PROHIBITED}}),
        "GET /systems": Call(query={"tier": "high"}),
        "GET /systems/{name}": Call({"name": "credit-scoring"}),
        "PATCH /systems/{name}": Call({"name": OPEN}, body={"purpose": "document triage", "log_retention_days": 200}),
        "POST /systems/{name}/classify": Call({"name": OPEN}, body={"answers": {"prohibited": NO_PROHIBITED}}),
        "POST /systems/{name}/versions": Call(
            {"name": OPEN}, body={"version": "2.0", "digest": _digest(), "size_bytes": 9}
        ),
        "GET /systems/{name}/versions": Call({"name": "credit-scoring"}),
        "GET /systems/{name}/versions/{version}": Call(credit),
        "PATCH /systems/{name}/versions/{version}": Call(open_v, body={"license": "MIT", "framework": "sklearn"}),
        "POST /systems/{name}/versions/{version}/retire": Call({"name": "fuzz-retire", "version": "1.0"}, body=reason),
        "GET /systems/{name}/versions/{version}/lineage": Call(credit),
        "GET /models": Call(),
        "POST /datasets": Call(
            body={"name": "fuzz-data", "version": "1", "digest": _digest(), "license": "CC-BY-4.0", "row_count": 10}
        ),
        "GET /datasets": Call(query={"name": "loan-train"}),
        "GET /datasets/{ref}": Call({"ref": "loan-train@1"}),
        "POST /lineage": Call(body={"dataset": "loan-train@1", "model": f"{OPEN}@1.0", "role": "training"}),
        "GET /lineage/{ref}": Call({"ref": "credit-scoring@2.0.0"}),
        "GET /export/cyclonedx": Call(),
        "POST /deployments": Call(
            body={"name": "fuzz-deploy", "model": "credit-scoring@2.0.0", "upstream": "http://127.0.0.1:9/v1"}
        ),
        "GET /deployments": Call(),
        "GET /deployments/{name}": Call({"name": "credit-scoring"}),
        "DELETE /deployments/{name}": Call({"name": "fuzz-remove"}),
        "POST /deployments/{name}/decisions": Call(
            {"name": "credit-scoring"}, body={"purpose": "credit-decisioning"}, who="app:loan-portal"
        ),
        "POST /systems/{system}/versions/{version}/evaluations": Call(open_s, body=w.bodies["evaluation"]),
        "POST /systems/{system}/versions/{version}/evaluations/upload": Call(
            open_s,
            body={"predictions": b"y,y_hat\n1,1\n0,0\n1,0\n0,1\n", "meta": '{"options": {"bootstrap_resamples": 0}}'},
            media="multipart/form-data",
        ),
        "GET /systems/{system}/versions/{version}/evaluations": Call(credit_s),
        "POST /systems/{system}/versions/{version}/assessments": Call(open_s, body={}),
        "GET /systems/{system}/versions/{version}/assessments": Call(credit_s),
        "GET /assessments/{assessment_id}": Call({"assessment_id": w.ids["assessment"]}),
        "GET /assessments/{assessment_id}/report.html": Call({"assessment_id": w.ids["assessment"]}),
        "GET /whoami": Call(who="mara"),
        "POST /users": Call(body={"name": "fuzz-new-user", "display_name": "New"}),
        "GET /users": Call(),
        "POST /users/{name}/disable": Call({"name": "fuzz-user"}, body=reason),
        "POST /users/{name}/enable": Call({"name": "fuzz-user"}),
        "PUT /users/{name}/password": Call({"name": "fuzz-user"}, body={"password": "correct horse battery"}),
        "POST /teams": Call(body={"name": "fuzz-team"}),
        "GET /teams": Call(),
        "POST /apps": Call(body={"name": "fuzz-new-app", "team": "lending"}),
        "GET /apps": Call(),
        "POST /apps/{name}/disable": Call({"name": "fuzz-app"}, body=reason),
        "POST /apps/{name}/enable": Call({"name": "fuzz-app"}),
        "POST /keys": Call(body={"principal": "fuzz-user", "name": "ci", "expires_in_days": 30}),
        "GET /keys": Call(query={"principal": "fuzz-user"}),
        "DELETE /keys/{key_id}": Call({"key_id": w.ids["key"]}),
        "POST /roles": Call(body={"principal": "fuzz-user", "role": "viewer", "scope": "system:credit-scoring"}),
        "GET /roles": Call(),
        "POST /roles/revoke": Call(body={"principal": "fuzz-user", "role": "viewer", "scope": "system:credit-scoring"}),
        "POST /licenses": Call(
            body={
                "model": "credit-scoring@2.0.0",
                "env": "staging",
                "purposes": ["credit-decisioning"],
                "callers": ["app:loan-portal"],
                "days": 30,
            },
            who="mara",
        ),
        "GET /licenses": Call(query={"state": "active"}),
        "GET /licenses/check": Call(query={"model": "credit-scoring@2.0.0", "env": "production"}),
        "GET /licenses/{license_id}": Call(on("active")),
        "GET /licenses/{license_id}/status": Call(on("pending")),
        "GET /licenses/{license_id}/signoffs": Call(on("active")),
        "POST /licenses/{license_id}/signoffs": Call(
            on("pending"), body={"function": "legal", "decision": "approve", "comment": "fine"}, who="louise"
        ),
        "POST /licenses/{license_id}/activate": Call(on("unapproved"), who="mara"),
        "POST /licenses/{license_id}/suspend": Call(on("to-suspend"), body={**reason, "category": "security"}),
        "POST /licenses/{license_id}/reinstate": Call(on("suspended"), body=reason),
        "POST /licenses/{license_id}/revoke": Call(on("to-revoke"), body=reason),
        "POST /licenses/{license_id}/renew": Call(on("active"), body={"days": 30}, who="mara"),
        "GET /licenses/{license_id}/token": Call(on("active")),
        "GET /reaudits": Call(query={"status": "open"}),
        "POST /reaudits/{task_id}/complete": Call({"task_id": w.ids["task"]}, body={"note": "re-audited"}),
        "PUT /monitoring/systems/{system}/versions/{version}/reference": Call(open_s, body=w.bodies["reference"]),
        "GET /monitoring/systems/{system}/versions/{version}/reference": Call(credit_s, query={"full": "false"}),
        "GET /deployments/{name}/capture": Call({"name": "credit-scoring"}, who="app:loan-portal"),
        "POST /deployments/{name}/capture": Call(
            {"name": "credit-scoring"}, body=w.bodies["capture"], who="app:loan-portal"
        ),
        "POST /monitoring/systems/{system}/versions/{version}/windows": Call(open_s, body=w.bodies["window"]),
        "GET /monitoring/systems/{system}/versions/{version}/windows": Call(credit_s),
        "GET /monitoring/systems/{system}/versions/{version}/status": Call(credit_s),
        "GET /monitoring/systems/{system}/versions/{version}/metrics": Call(
            credit_s, query={"metric": "drift.psi_max"}
        ),
        "GET /monitoring/systems/{system}/versions/{version}/series": Call(credit_s),
        "GET /monitoring/systems/{system}/versions/{version}/breaches": Call(credit_s),
        "GET /monitoring/profiles": Call(),
        "GET /monitoring/windows": Call(query={"limit": 2}),
        "GET /monitoring/breaches": Call(),
        "POST /policies": Call(body={"source": policy("fuzz-posted", "0.6"), "filename": "fuzz.yaml"}),
        "GET /policies": Call(query={"all": "true"}),
        "GET /policies/{ref}": Call({"ref": "fuzz-credit"}),
        "GET /policies/{ref}/diff": Call({"ref": "fuzz-credit"}),
        "POST /policies/{name}/deactivate": Call({"name": "fuzz-retired"}, body=reason),
        "GET /controls/coverage": Call(query={"framework": "eu-ai-act"}),
        "GET /reports/systems/{name}": Call({"name": "credit-scoring"}, query={"format": "json"}),
        "GET /reports/compliance": Call(),
        "GET /reports/systems/{name}/pack": Call({"name": "credit-scoring"}),
        "GET /approvals": Call(),
        "GET /approvals/{approval_id}": Call({"approval_id": w.ids["approval"]}),
        "POST /approvals/{approval_id}/approve": Call({"approval_id": w.ids["approval"]}, body={"reason": "fine"}),
        "POST /approvals/{approval_id}/deny": Call({"approval_id": w.ids["approval-deny"]}, body={"reason": "no"}),
        "POST /systems/{name}/incidents": Call(
            {"name": "credit-scoring"},
            body={"kind": "property_environment", "aware_at": datetime.now(UTC).isoformat(), "description": "fuzz"},
        ),
        "GET /incidents": Call(),
        "GET /incidents/{incident_id}": Call({"incident_id": w.ids["incident"]}),
        "POST /incidents/{incident_id}/close": Call({"incident_id": w.ids["incident"]}, body={"note": "reported"}),
        "GET /incidents/{incident_id}/report.html": Call({"incident_id": w.ids["incident"]}),
        "GET /incidents/{incident_id}/report.pdf": Call({"incident_id": w.ids["incident"]}),
        "POST /systems/{name}/attestations": Call(
            {"name": "credit-scoring"},
            body={
                "control": "EUAIA-ART4",
                "statement": "fuzz: AI literacy training done",
                "evidence_name": "training.txt",
                "evidence_sha256": hashlib.sha256(b"trained").hexdigest(),
                "evidence_size": 7,
                "evidence_b64": base64.b64encode(b"trained").decode(),
                "valid_days": 365,
            },
        ),
        "GET /systems/{name}/attestations": Call({"name": "credit-scoring"}),
        "GET /systems/{name}/controls": Call({"name": "credit-scoring"}),
        "POST /systems/{name}/documents": Call(
            {"name": "credit-scoring"},
            body={
                "kind": "fria",
                "model_version": "2.0.0",
                "sections": dict.fromkeys(FRIA_SECTIONS, "fuzz: described"),
            },
        ),
        "GET /systems/{name}/documents": Call({"name": "credit-scoring"}),
    }
