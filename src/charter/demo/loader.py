"""The demo loader: people, catalog entries, evaluations and license steps, each done through the domain services as
the person who would do it (so authorization applies and the audit log records it)."""

from __future__ import annotations

import hashlib
import secrets
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
from charter.demo import content, data
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


class Loader:
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
