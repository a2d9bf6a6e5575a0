"""The demo loader: people, catalog entries, evaluations and license steps, each done through the domain services as
the person who would do it (so authorization applies and the audit log records it)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, KeyCreate, RoleGrant, TeamCreate, UserCreate
from charter.bootstrap import Container
from charter.catalog import documents
from charter.catalog import service as catalog
from charter.catalog.repository import system_by_name
from charter.catalog.schemas import DatasetCreate, FileIn, LineageLink, ModelVersionCreate, SystemCreate
from charter.core.errors import Conflict, ErrorCode, NotFound
from charter.demo import content, data
from charter.evaluation import scan_path
from charter.evaluation import service as evaluation
from charter.evaluation.compute import ComputeOptions, predictions_evidence
from charter.evaluation.schemas import InputFile, UploadMeta
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate, LicenseRead
from charter.signoffs.model import Decision
from charter.signoffs.schemas import SignOffCreate

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
    resumed: bool = False  # an interrupted run's half-loaded demo was completed
    summary: dict[str, Any] = field(default_factory=dict)  # what an already loaded demo holds


MARKER_LAST = ("doc-classifier", "doc-classifier@1.0")  # the last step of `load` requests this model's license


def already_loaded(c: Container) -> bool:
    """True when the whole demo is in this database: its last step (doc-classifier@1.0's request) is there."""
    system, ref = MARKER_LAST
    with c.uow(write=False) as uow:
        try:
            catalog.get_system(uow, system)
        except NotFound:
            return False
        return any(lic.model == ref for lic in licenses.list_licenses(uow, SYSTEM_ACTOR, system=system))


def partly_loaded(c: Container) -> bool:
    """True when an interrupted run left some of the demo (its teams come first)."""
    with c.uow(write=False) as uow:
        return bool({t.name for t in auth.list_teams(uow, SYSTEM_ACTOR)} & set(content.TEAMS))


def summary(c: Container) -> dict[str, Any]:
    """What a loaded demo holds, for the message of a second run (no secrets: they are not stored)."""
    with c.uow(write=False) as uow:
        systems = [s.name for s in catalog.list_systems(uow, SYSTEM_ACTOR)]
        states = [f"{lic.model} {lic.env} {lic.state}" for lic in licenses.list_licenses(uow, SYSTEM_ACTOR)]
    people = [{"name": n, "roles": [f"{r}({f})" if f else r for r, f in roles]} for n, _, _, roles in content.PEOPLE]
    apps = [{"name": f"app:{a}", "roles": ["app"]} for a, _ in content.APPS]
    return {"systems": systems, "licenses": states, "people": people + apps}


def _admin(c: Container) -> Actor:
    """The administrator `charter init` created: the demo's people are created by them."""
    with c.uow(write=False) as uow:
        admins = [b.principal for b in auth.list_roles(uow, SYSTEM_ACTOR) if b.role == "admin"]
        users = {f"{p.kind}:{p.name}": p.id for p in auth.list_principals(uow, SYSTEM_ACTOR)}
        if not admins:
            raise NotFound("no administrator: run `charter init` first", code=ErrorCode.NOT_INITIALISED)
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
        """Teams, people and apps. What an interrupted run created is kept; its passwords and keys were never
        printed, so those people get a new password and key now (printed below like the others)."""
        for team_name in content.TEAMS:
            with self.c.uow() as uow:
                if team_name not in {t.name for t in auth.list_teams(uow, self.admin)}:
                    auth.add_team(uow, self.admin, TeamCreate(name=team_name))
        with self.c.uow(write=False) as uow:
            existing = {f"{p.kind}:{p.name}" for p in auth.list_principals(uow, self.admin)}
            bound = {(b.principal, b.role, b.function or None) for b in auth.list_roles(uow, self.admin)}
        passwords = {name: f"demo-{secrets.token_urlsafe(9)}" for name, *_ in content.PEOPLE}
        # Password hashing (Argon2id, ~1 s each) dominates; it releases the GIL, so the users are added in parallel.
        with ThreadPoolExecutor(max_workers=len(content.PEOPLE)) as pool:
            list(pool.map(lambda p: self._user(p[0], p[1], p[2], passwords[p[0]], existing), content.PEOPLE))
        for name, display, _, roles in content.PEOPLE:
            for role, function in roles:
                if (f"user:{name}", role, function) in bound:
                    continue
                with self.c.uow() as uow:
                    auth.grant_role(uow, self.admin, RoleGrant(principal=name, role=role, function=function))
            with self.c.uow() as uow:
                key = auth.create_key(uow, self.admin, KeyCreate(principal=name, name="demo key")).key
            with self.c.uow(write=False) as uow:
                self.people[name] = auth.authenticate(uow, key)
            labels = [f"{r}({f})" if f else r for r, f in roles]
            self.result.logins.append(Login(name, display, labels, passwords[name], key))
        for app, team in content.APPS:
            if f"app:{app}" not in existing:
                with self.c.uow() as uow:
                    auth.add_app(uow, self.admin, AppCreate(name=app, team=team))
            with self.c.uow() as uow:
                key = auth.create_key(uow, self.admin, KeyCreate(principal=f"app:{app}", name="demo key")).key
            self.result.logins.append(Login(f"app:{app}", f"service account of {team}", ["app"], None, key))

    def _user(self, name: str, display: str, team: str | None, password: str, existing: set[str]) -> None:
        if f"user:{name}" in existing:  # created by an interrupted run whose password nobody saw
            with self.c.uow() as uow:
                auth.set_password(uow, self.admin, name, password)
            return
        data = UserCreate(
            name=name, team=team, display_name=display, email=f"{name}@demo-bank.example", password=password
        )
        with self.c.uow() as uow:
            auth.add_user(uow, self.admin, data)

    # -- catalog --------------------------------------------------------------------------------------------
    def catalog(self) -> None:
        mara, sam = self.people["mara"], self.people["sam"]
        for system in content.SYSTEMS:
            with self.c.uow() as uow, unless_exists():
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
                "uri": path.resolve().as_uri(),
                "source": source,
                "license": license_,
                "lawful_basis": basis,
                "personal_data": personal,
                "data_format": "csv",
                "row_count": 50,
                "derived_from": [f"{p}@1" for p in parents],
            }
            with self.c.uow() as uow, unless_exists():
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
            uri=path.resolve().as_uri(),
            framework="numpy",
            format="safetensors",
            card=card,
            license="Apache-2.0",
        )
        if self._has_version(f"{system}@{version}"):
            return f"{system}@{version}"  # registered by an interrupted run (the file is the same bytes)
        with self.c.uow() as uow:
            catalog.register_model_version(uow, self.people["mara"], system, body)
        return f"{system}@{version}"

    def _has_version(self, ref: str) -> bool:
        with self.c.uow(write=False) as uow:
            try:
                catalog.get_model_version(uow, ref)
            except NotFound:
                return False
        return True

    def link(self, ref: str, dataset: str, role: str) -> None:
        with self.c.uow(write=False) as uow:
            linked = {(n.ref, n.role) for n in catalog.lineage_of(uow, self.admin, ref).datasets}
        if (f"{dataset}@1" if "@" not in dataset else dataset, role) in linked:
            return  # linked by an interrupted run
        with self.c.uow() as uow:
            catalog.link(
                uow, self.people["mara"], LineageLink.model_validate({"dataset": dataset, "model": ref, "role": role})
            )

    def evaluate(self, ref: str, predictions: Path, *, score: bool, sensitive: list[str]) -> Any:
        with self.c.uow(write=False) as uow:
            done = evaluation.list_assessments(uow, self.people["mara"], ref)
        if done:  # evaluated by an interrupted run
            return done[0]
        system, version = ref.split("@")
        artifact = self.files / "models" / system / version / "model.safetensors"
        # as `charter evaluate --upload` does: the server computes the figures from the predictions file
        options = ComputeOptions(
            score="p" if score else None, sensitive=tuple(sensitive), bootstrap_resamples=RESAMPLES
        )
        sections, rows = predictions_evidence(predictions, options)
        scanned = {"scan": scan_path(artifact).to_dict()}
        art = {"name": artifact.name, "sha256": _sha256(artifact, prefix=False), "size": artifact.stat().st_size}
        meta = UploadMeta.model_validate({"evidence": scanned, "inputs": {"artifact": art}})
        file = InputFile(
            name=predictions.name,
            sha256=_sha256(predictions, prefix=False),
            size=predictions.stat().st_size,
            rows=rows,
        )
        with self.c.uow() as uow:
            return evaluation.submit_computed(uow, self.people["mara"], ref, sections, file, options, meta)

    def document(self, ref: str) -> None:
        """The FRIA (Art. 27) and post-market monitoring plan (Art. 72) the system's obligations call for, for this
        model version: the built-in licensing policy requires them before a license activates."""
        system, version = ref.split("@")
        with self.c.uow(write=False) as uow:
            row = system_by_name(uow.session, system)
            needed = [k for k in documents.required(row) if documents.current(uow, row, k, version) is None]
        for kind in needed:  # the others were submitted by an interrupted run
            body = documents.DocumentCreate(
                kind=kind,
                model_version=version,
                sections=content.DOCUMENTS[kind],
                metrics=content.PLAN_METRICS if kind == documents.PLAN else [],
            )
            with self.c.uow() as uow:
                documents.submit(uow, self.people["mara"], system, body)

    # -- licenses -------------------------------------------------------------------------------------------
    def request(self, ref: str, env: str, purpose: str, caller: str, days: int, conditions: list[str]) -> LicenseRead:
        system = ref.split("@")[0]
        with self.c.uow(write=False) as uow:
            for lic in licenses.list_licenses(uow, self.admin, system=system):
                if lic.model == ref and lic.env == env and lic.purposes == [purpose]:
                    return lic  # requested by an interrupted run
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
        with self.c.uow(write=False) as uow:
            status = licenses.status(uow, self.admin, lic.id)
        if status.state != "requested":  # decided by an interrupted run
            return
        for fn in functions:
            if fn in status.approved or fn in status.rejected:
                continue  # signed by an interrupted run
            reviewer = self.people[_REVIEWER[fn]]
            comment = "Looks good to me." if decision is Decision.APPROVE else "Fails the parity rule; do not ship."
            with self.c.uow() as uow:
                licenses.sign(uow, reviewer, lic.id, SignOffCreate(function=fn, decision=decision, comment=comment))

    def current(self, license_id: str) -> LicenseRead:
        with self.c.uow(write=False) as uow:
            return licenses.get(uow, self.admin, license_id)

    def state(self, label: str, license_id: str) -> None:
        with self.c.uow(write=False) as uow:
            lic = licenses.get(uow, self.admin, license_id)
        self.result.licenses[label] = f"{lic.id} {lic.state}"


_REVIEWER = {"ml-lead": "lena", "security": "sekou", "legal": "louise", "ethics": "eti", "privacy": "priya"}


@contextmanager
def unless_exists() -> Iterator[None]:
    """Skip a step an interrupted run already did (the service refuses it as a duplicate)."""
    try:
        yield
    except Conflict as exc:
        if not (exc.code.endswith("_exists") or exc.code == ErrorCode.MODEL_VERSION_LOCKED):
            raise


def _sha256(path: Path, *, prefix: bool = True) -> str:
    hexdigest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"sha256:{hexdigest}" if prefix else hexdigest
