"""A licensed model version for gateway tests: system → model version → clean assessment → active license → app."""

from __future__ import annotations

import os
from dataclasses import dataclass

from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, KeyCreate, RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.catalog.schemas import ModelVersionCreate, SystemCreate
from charter.evaluation import service as evaluation
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.policies.engine import Assessment, Verdict
from charter.signoffs.schemas import SignOffCreate


@dataclass(frozen=True)
class Licensed:
    model: str  # SYSTEM@VERSION
    digest: str
    license_id: str
    app_key: str  # app:loan-portal, a caller of the license


def _user(c: Container, name: str, role: str, function: str | None = None) -> Actor:
    with c.uow() as uow:
        auth.add_user(uow, SYSTEM_ACTOR, UserCreate(name=name))
    with c.uow() as uow:
        auth.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal=name, role=role, function=function))
    with c.uow() as uow:
        key = auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=name)).key
    with c.uow(write=False) as uow:
        return auth.authenticate(uow, key)


def licensed(c: Container, *, system: str = "credit", tools: tuple[str, ...] = ("lookup_customer",)) -> Licensed:
    """Everything a gateway call needs, through the domain services; the license is active."""
    answers = {"prohibited": NO_PROHIBITED}
    with c.uow() as uow:
        catalog.register_system(
            uow, SYSTEM_ACTOR, SystemCreate.model_validate({"name": system, "purpose": "x", "answers": answers})
        )
    digest = "sha256:" + os.urandom(32).hex()
    with c.uow() as uow:
        catalog.register_model_version(
            uow, SYSTEM_ACTOR, system, ModelVersionCreate(version="1.0", digest=digest, size_bytes=1)
        )
    model = f"{system}@1.0"
    clean = Assessment(
        results=(), verdict=Verdict.PASS, policy_set_digest=digest[7:], evidence_digest=digest[7:], policies=()
    )
    with c.uow() as uow:
        evaluation.record_assessment(uow, SYSTEM_ACTOR, model, clean, {})
    with c.uow() as uow:
        auth.add_app(uow, SYSTEM_ACTOR, AppCreate(name="loan-portal"))
    with c.uow() as uow:
        app_key = auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="app:loan-portal")).key
    body = {
        "model": model,
        "env": "production",
        "purposes": ["credit-scoring"],
        "callers": ["app:loan-portal"],
        "tools": list(tools),
        "days": 30,
    }
    with c.uow() as uow:
        lic = licenses.request(uow, _user(c, "rita", "ml-engineer"), LicenseCreate.model_validate(body))
    with c.uow(write=False) as uow:
        needed = licenses.status(uow, SYSTEM_ACTOR, lic.id).missing_signoffs
    for fn in needed:
        reviewer = _user(c, f"rev-{fn}", "reviewer", fn)
        with c.uow() as uow:
            licenses.sign(uow, reviewer, lic.id, SignOffCreate.model_validate({"function": fn, "decision": "approve"}))
    with c.uow(write=False) as uow:
        state = licenses.get(uow, SYSTEM_ACTOR, lic.id).state
    if state != "active":
        raise AssertionError(f"license {lic.id} is {state}, not active")
    return Licensed(model=model, digest=digest, license_id=lic.id, app_key=app_key)
