"""A licensing world: systems of each tier, a model version, an app, a requester and one reviewer per function."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.catalog.schemas import ModelVersionCreate, SystemCreate
from charter.licenses import service
from charter.licenses.schemas import LicenseCreate, LicenseRead
from charter.signoffs.schemas import SignOffCreate
from tests.conftest import MakeUser
from tests.support.builders import document_obligations

FUNCTIONS = ("ml-lead", "security", "legal", "ethics", "privacy")
ANSWERS: dict[str, dict[str, Any]] = {
    "high": {"prohibited": NO_PROHIBITED, "annex_iii": {"point": "5(b)"}},
    "high-pd": {"prohibited": NO_PROHIBITED, "annex_iii": {"point": "5(b)"}, "data": {"personal_data": True}},
    "limited": {"prohibited": NO_PROHIBITED, "transparency": {"interacts_with_natural_persons": True}},
    "minimal": {"prohibited": NO_PROHIBITED},
    "prohibited": {"prohibited": {**NO_PROHIBITED, "social_scoring": True}},
}


@dataclass
class World:
    c: Container
    admin: Actor
    requester: Actor
    manager: Actor
    reviewers: dict[str, Actor]
    keys: dict[str, str] = field(default_factory=dict)
    counter: int = 0
    salt: str = field(default_factory=lambda: secrets.token_hex(8))

    def actor(self, key: str) -> Actor:
        with self.c.uow(write=False) as uow:
            return auth_service.authenticate(uow, key)

    def system(self, kind: str, name: str | None = None) -> str:
        """Register a system of `kind` (high, high-pd, limited, minimal, prohibited) with model version 1.0."""
        self.counter += 1
        name = name or f"sys{self.counter}-{kind}"
        with self.c.uow() as uow:
            catalog.register_system(
                uow,
                self.admin,
                SystemCreate.model_validate({"name": name, "purpose": "test", "answers": ANSWERS[kind]}),
            )
        self.version(name, "1.0")
        return name

    def version(self, system: str, version: str, *, documented: bool = True) -> str:
        """Model version SYSTEM@VERSION, with the FRIA/post-market plan its obligations call for unless not
        `documented` (the built-in licensing policy requires them for activation)."""
        digest = "sha256:" + hashlib.sha256(f"{self.salt}/{system}@{version}".encode()).hexdigest()
        with self.c.uow() as uow:
            catalog.register_model_version(
                uow, self.admin, system, ModelVersionCreate(version=version, digest=digest, size_bytes=1)
            )
        if documented:
            document_obligations(self.c, f"{system}@{version}")
        return f"{system}@{version}"

    def request(self, model: str, *, days: int = 90, env: str = "production", **extra: Any) -> LicenseRead:
        body: dict[str, Any] = {
            "model": model,
            "env": env,
            "purposes": ["credit-decisioning"],
            "callers": ["app:loan-portal"],
        }
        body.update({"days": days, **extra})
        with self.c.uow() as uow:
            return service.request(uow, self.requester, LicenseCreate.model_validate(body))

    def approve(self, license_id: str, function: str, actor: Actor | None = None, decision: str = "approve") -> Any:
        with self.c.uow() as uow:
            data = SignOffCreate.model_validate({"function": function, "decision": decision, "comment": "ok"})
            return service.sign(uow, actor or self.reviewers[function], license_id, data)

    def approve_all(self, license_id: str) -> Any:
        with self.c.uow(write=False) as uow:
            needed = service.status(uow, self.admin, license_id).missing_signoffs
        out = None
        for fn in needed:
            out = self.approve(license_id, fn)
        return out

    def get(self, license_id: str) -> LicenseRead:
        with self.c.uow(write=False) as uow:
            return service.get(uow, self.admin, license_id)

    def digest(self, model: str) -> str:
        with self.c.uow(write=False) as uow:
            return catalog.get_model_version(uow, model).digest


@pytest.fixture
def world(container: Container, make_user: MakeUser) -> World:
    with container.uow() as uow:
        auth_service.add_app(uow, SYSTEM_ACTOR, AppCreate(name="loan-portal"))
    w = World(c=container, admin=SYSTEM_ACTOR, requester=SYSTEM_ACTOR, manager=SYSTEM_ACTOR, reviewers={})
    _, key = make_user("ml-engineer", ("reviewer", "ml-lead"), name="rita")
    w.requester = w.actor(key)
    w.keys["rita"] = key
    _, key = make_user("senior-engineer", name="sam")
    w.manager = w.actor(key)
    w.keys["sam"] = key
    for fn in FUNCTIONS:
        _, key = make_user(("reviewer", fn), name=f"rev-{fn}")
        w.reviewers[fn] = w.actor(key)
        w.keys[fn] = key
    return w
