"""Load the demo through the domain services, each step as the person who would do it (authorized, audited)."""

from __future__ import annotations

import hashlib
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, KeyCreate, RoleGrant, TeamCreate, UserCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.schemas import DatasetCreate, FileIn, LineageLink, ModelVersionCreate, SystemCreate
from charter.core.errors import NotFound
from charter.demo import content, data, monitoring
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.evaluation import build_evaluation_evidence, evaluate_predictions, load_predictions, scan_path
from charter.evaluation import service as evaluation
from charter.evaluation.schemas import EvaluationCreate
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate, LicenseRead
from charter.signoffs.model import Decision
from charter.signoffs.schemas import SignOffCreate

MARKER_SYSTEM = "credit-scoring"
RESAMPLES = 40


@dataclass
class Login:
    name: str
    display_name: str
    roles: list[str]
    password: str | None
    key: str


@dataclass
class DemoResult:
    loaded: bool
    data_dir: Path
    logins: list[Login] = field(default_factory=list)
    licenses: dict[str, str] = field(default_factory=dict)  # label -> "id state"
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def already_loaded(c: Container) -> bool:
    """True when the demo (its credit-scoring system) is already in this database."""
    with c.uow(write=False) as uow:
        try:
            catalog.get_system(uow, MARKER_SYSTEM)
        except NotFound:
            return False
    return True


def _admin(c: Container) -> Actor:
    """The administrator `charter init` created: the demo's people are created by them."""
    with c.uow(write=False) as uow:
        admins = [b.principal for b in auth.list_roles(uow, SYSTEM_ACTOR) if b.role == "admin"]
        users = {f"{p.kind}:{p.name}": p.id for p in auth.list_principals(uow, SYSTEM_ACTOR)}
        if not admins:
            raise NotFound("no administrator: run `charter init` first", code="not_initialised")
        return auth.actor_by_id(uow, users[admins[0]])


class _Loader:
    def __init__(self, c: Container, files: Path) -> None:
        self.c = c
        self.files = files
        self.admin = _admin(c)
        self.people: dict[str, Actor] = {}
        self.result = DemoResult(loaded=True, data_dir=files)

    # -- identity -------------------------------------------------------------------------------------------
    def identity(self) -> None:
        for team_name in content.TEAMS:
            with self.c.uow() as uow:
                auth.add_team(uow, self.admin, TeamCreate(name=team_name))
        passwords = {name: f"demo-{secrets.token_urlsafe(9)}" for name, *_ in content.PEOPLE}
        # Password hashing (Argon2id, ~1 s each) dominates; it releases the GIL, so the users are added in parallel.
        with ThreadPoolExecutor(max_workers=len(content.PEOPLE)) as pool:
            list(pool.map(lambda p: self._user(p[0], p[1], p[2], passwords[p[0]]), content.PEOPLE))
        for name, display, _, roles in content.PEOPLE:
            for role, function in roles:
                with self.c.uow() as uow:
                    auth.grant_role(uow, self.admin, RoleGrant(principal=name, role=role, function=function))
            with self.c.uow() as uow:
                key = auth.create_key(uow, self.admin, KeyCreate(principal=name, name="demo key")).key
            with self.c.uow(write=False) as uow:
                self.people[name] = auth.authenticate(uow, key)
            labels = [f"{r}({f})" if f else r for r, f in roles]
            self.result.logins.append(Login(name, display, labels, passwords[name], key))
        for app, team in content.APPS:
            with self.c.uow() as uow:
                auth.add_app(uow, self.admin, AppCreate(name=app, team=team))
            with self.c.uow() as uow:
                key = auth.create_key(uow, self.admin, KeyCreate(principal=f"app:{app}", name="demo key")).key
            self.result.logins.append(Login(f"app:{app}", f"service account of {team}", ["app"], None, key))

    def _user(self, name: str, display: str, team: str | None, password: str) -> None:
        data = UserCreate(
            name=name, team=team, display_name=display, email=f"{name}@demo-bank.example", password=password
        )
        with self.c.uow() as uow:
            auth.add_user(uow, self.admin, data)

    # -- catalog --------------------------------------------------------------------------------------------
    def catalog(self) -> None:
        mara, sam = self.people["mara"], self.people["sam"]
        for system in content.SYSTEMS:
            with self.c.uow() as uow:
                catalog.register_system(uow, sam, SystemCreate.model_validate(system))
        for name, license_, basis, personal, parents, source in content.DATASETS:
            path = data.table_file(
                self.files / "datasets" / f"{name}.csv",
                ["id", "source", "note"],
                [[i, source, f"{name} row {i}"] for i in range(1, 51)],
            )
            body: dict[str, Any] = {
                "name": name,
                "version": "1",
                "digest": _sha256(path),
                "size_bytes": path.stat().st_size,
                "uri": path.as_uri(),
                "source": source,
                "license": license_,
                "lawful_basis": basis,
                "personal_data": personal,
                "data_format": "csv",
                "row_count": 50,
                "derived_from": [f"{p}@1" for p in parents],
            }
            with self.c.uow() as uow:
                catalog.register_dataset(uow, mara, DatasetCreate.model_validate(body))

    def model(self, system: str, version: str, tensors: dict[str, list[float]], card: dict[str, Any]) -> str:
        path = data.write_safetensors(
            self.files / "models" / system / version / "model.safetensors",
            tensors,
            {"system": system, "version": version, "note": "Charter demo artifact"},
        )
        digest = _sha256(path, prefix=False)
        files = [FileIn(path=path.name, size=path.stat().st_size, sha256=digest)]
        body = ModelVersionCreate(
            version=version,
            digest=f"sha256:{digest}",
            size_bytes=path.stat().st_size,
            files=files,
            uri=path.as_uri(),
            framework="numpy",
            format="safetensors",
            card=card,
            license="Apache-2.0",
        )
        with self.c.uow() as uow:
            catalog.register_model_version(uow, self.people["mara"], system, body)
        return f"{system}@{version}"

    def link(self, ref: str, dataset: str, role: str) -> None:
        with self.c.uow() as uow:
            catalog.link(
                uow, self.people["mara"], LineageLink.model_validate({"dataset": dataset, "model": ref, "role": role})
            )

    def evaluate(self, ref: str, predictions: Path, *, score: bool, sensitive: list[str]) -> Any:
        system, version = ref.split("@")
        artifact = self.files / "models" / system / version / "model.safetensors"
        loaded = load_predictions(predictions, score="p" if score else None, sensitive=sensitive)
        evidence = build_evaluation_evidence(
            predictions=evaluate_predictions(loaded, resamples=RESAMPLES), scan=scan_path(artifact)
        )
        evidence.pop("documentation", None)  # the service reads it from the stored model card
        body = {
            "evidence": evidence,
            "inputs": {
                "predictions": {
                    "name": predictions.name,
                    "sha256": _sha256(predictions, prefix=False),
                    "size": predictions.stat().st_size,
                    "rows": loaded.n,
                },
                "artifact": {
                    "name": artifact.name,
                    "sha256": _sha256(artifact, prefix=False),
                    "size": artifact.stat().st_size,
                },
            },
            "options": {
                "label": "y",
                "prediction": "y_hat",
                **({"score": "p"} if score else {}),
                "sensitive": sensitive,
                "bootstrap_resamples": RESAMPLES,
                "source": "predictions",
            },
        }
        with self.c.uow() as uow:
            return evaluation.submit_evaluation(uow, self.people["mara"], ref, EvaluationCreate.model_validate(body))

    # -- licenses -------------------------------------------------------------------------------------------
    def request(self, ref: str, env: str, purpose: str, caller: str, days: int, conditions: list[str]) -> LicenseRead:
        body = {
            "model": ref,
            "env": env,
            "purposes": [purpose],
            "callers": [caller],
            "days": days,
            "conditions": conditions,
        }
        with self.c.uow() as uow:
            return licenses.request(uow, self.people["mara"], LicenseCreate.model_validate(body))

    def sign(self, lic: LicenseRead, functions: list[str], decision: Decision = Decision.APPROVE) -> None:
        for fn in functions:
            reviewer = self.people[_REVIEWER[fn]]
            comment = "Looks good to me." if decision is Decision.APPROVE else "Fails the parity rule; do not ship."
            with self.c.uow() as uow:
                licenses.sign(uow, reviewer, lic.id, SignOffCreate(function=fn, decision=decision, comment=comment))

    def state(self, label: str, license_id: str) -> None:
        with self.c.uow(write=False) as uow:
            lic = licenses.get(uow, self.admin, license_id)
        self.result.licenses[label] = f"{lic.id} {lic.state}"


_REVIEWER = {"ml-lead": "lena", "security": "sekou", "legal": "louise", "ethics": "eti", "privacy": "priya"}


def _sha256(path: Path, *, prefix: bool = True) -> str:
    hexdigest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"sha256:{hexdigest}" if prefix else hexdigest


def load(c: Container) -> DemoResult:
    """Load the whole demo once; when it is already there, change nothing and say so."""
    started = time.perf_counter()
    files = c.settings.home / "demo"
    if already_loaded(c):
        return DemoResult(loaded=False, data_dir=files)
    ld = _Loader(c, files)
    ld.identity()
    ld.catalog()
    _credit(ld)
    _chatbot(ld)
    _classifier(ld)
    ld.result.seconds = round(time.perf_counter() - started, 2)
    return ld.result


def _credit(ld: _Loader) -> None:
    biased, mitigated, thresholds = data.credit_predictions(ld.files / "evaluations" / "credit-scoring")
    coef = [1.5, -3.6, 0.55, -0.85]
    v1 = ld.model(
        "credit-scoring",
        "1.0.0",
        {"coef": coef, "intercept": [0.75]},
        content.card(
            "credit-scoring-logit",
            "1.0.0",
            purpose=content.SYSTEMS[0]["purpose"],
            architecture="Logistic regression, one threshold (0.5).",
        ),
    )
    v2 = ld.model(
        "credit-scoring",
        "2.0.0",
        {"coef": coef, "intercept": [0.75], "thresholds": [thresholds["F"], thresholds["M"]]},
        content.card(
            "credit-scoring-logit",
            "2.0.0",
            purpose=content.SYSTEMS[0]["purpose"],
            architecture="Logistic regression with per-gender thresholds (demographic parity post-processing).",
        ),
    )
    for ref in (v1, v2):
        ld.link(ref, "loan-train@1", "training")
        ld.link(ref, "loan-validation@1", "validation")
    ld.evaluate(v1, biased, score=True, sensitive=["gender", "age_band"])
    ld.evaluate(v2, mitigated, score=True, sensitive=["gender", "age_band"])
    rejected = ld.request(v1, "production", "credit-decisioning", "app:loan-portal", 180, [])
    ld.sign(rejected, ["ml-lead"])
    ld.sign(rejected, ["ethics"], Decision.REJECT)
    ld.state("credit-scoring@1.0.0 production (biased, rejected by ethics)", rejected.id)
    active = ld.request(
        v2, "production", "credit-decisioning", "app:loan-portal", 180, ["fairness.dp_diff[gender] < 0.1 => suspend"]
    )
    ld.sign(active, active.required_signoffs)
    ld.state("credit-scoring@2.0.0 production (mitigated)", active.id)
    pending = ld.request(v2, "staging", "credit-decisioning", "app:loan-portal", 90, [])
    ld.sign(pending, ["ml-lead", "security"])
    ld.state("credit-scoring@2.0.0 staging (awaiting legal, ethics, privacy)", pending.id)
    _monitoring(ld, v2, thresholds)
    with ld.c.uow() as uow:
        deployments.add(
            uow,
            ld.people["sam"],
            DeploymentCreate(
                name="credit-scoring", model=v2, env="production", upstream="http://127.0.0.1:9100/v1", kind="http"
            ),
        )


def _chatbot(ld: _Loader) -> None:
    ref = ld.model(
        "support-chatbot",
        "1.0",
        {"embedding": [0.1 * i for i in range(16)]},
        content.card(
            "support-chatbot",
            "1.0",
            purpose=content.SYSTEMS[1]["purpose"],
            architecture="Retrieval-augmented small language model.",
        ),
    )
    ld.link(ref, "support-transcripts@1", "training")
    ld.link(ref, "faq-articles@1", "reference")
    preds = data.classifier_predictions(ld.files / "evaluations" / "support-chatbot" / "predictions.csv", 800, 0.86, 7)
    ld.evaluate(ref, preds, score=True, sensitive=[])
    lic = ld.request(ref, "production", "customer-support", "app:support-widget", 365, [])
    ld.sign(lic, lic.required_signoffs)
    with ld.c.uow() as uow:
        licenses.suspend(
            uow,
            ld.people["sam"],
            lic.id,
            "Prompt-injection incident INC-311 under investigation",
            {"incident": "INC-311"},
            category="security",
        )
    ld.state("support-chatbot@1.0 production (suspended: security incident)", lic.id)
    with ld.c.uow() as uow:
        deployments.add(
            uow,
            ld.people["sam"],
            DeploymentCreate(name="support-chatbot", model=ref, env="production", upstream="http://127.0.0.1:9101/v1"),
        )


def _classifier(ld: _Loader) -> None:
    refs = []
    for version, seed in (("0.9", 11), ("1.0", 12)):
        ref = ld.model(
            "doc-classifier",
            version,
            {"weights": [0.01 * (i + seed) for i in range(32)]},
            content.card(
                "doc-classifier",
                version,
                purpose=content.SYSTEMS[2]["purpose"],
                architecture="Bag-of-words linear classifier.",
            ),
        )
        ld.link(ref, "scanned-docs@1", "training")
        preds = data.classifier_predictions(
            ld.files / "evaluations" / "doc-classifier" / f"{version}.csv", 600, 0.9, seed
        )
        ld.evaluate(ref, preds, score=True, sensitive=[])
        refs.append(ref)
    old = ld.request(refs[0], "production", "document-routing", "app:doc-router", 365, [])
    ld.sign(old, old.required_signoffs)
    with ld.c.uow() as uow:
        licenses.revoke(
            uow, ld.people["sam"], old.id, "Superseded by doc-classifier@1.0; training data licence unclear"
        )
    ld.state("doc-classifier@0.9 production (revoked)", old.id)
    new = ld.request(refs[1], "production", "document-routing", "app:doc-router", 365, [])
    ld.state("doc-classifier@1.0 production (awaiting ml-lead)", new.id)


def _monitoring(ld: _Loader, ref: str, thresholds: dict[str, float]) -> None:
    """A second license on the mitigated model (pre-screening for a partner) whose drift condition the last
    monitoring window breaches: the monitoring service suspends it automatically."""
    if not monitoring.available():
        ld.result.notes.append("monitoring service not installed: no reference profile, windows or drift breach")
        return
    lic = ld.request(
        ref,
        "production",
        "partner-prescreening",
        "app:loan-portal",
        90,
        ["drift.psi_max < 0.25 => suspend", "fairness.dp_diff[gender] < 0.1 => suspend"],
    )
    ld.sign(lic, lic.required_signoffs)
    windows = monitoring.load(ld.c, ld.people["mara"], ref, ld.files / "monitoring" / "credit-scoring", thresholds)
    ld.result.notes.extend(windows)
    ld.state(f"{ref} production partner pre-screening (suspended automatically: drift)", lic.id)
