"""Building blocks of test worlds, through the domain services: people, apps, and assessed model versions."""

from __future__ import annotations

import os
from typing import Any

from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, KeyCreate, RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.catalog import documents
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.catalog.repository import system_by_name
from charter.catalog.schemas import ModelVersionCreate, SystemCreate
from charter.core.errors import CharterError
from charter.evaluation import service as evaluation
from charter.policies.engine import Assessment, Verdict


def user(c: Container, name: str, role: str, function: str | None = None) -> Actor:
    """A user with one global role, as an authenticated actor."""
    with c.uow() as uow:
        auth.add_user(uow, SYSTEM_ACTOR, UserCreate(name=name))
    with c.uow() as uow:
        auth.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal=name, role=role, function=function))
    with c.uow() as uow:
        key = auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=name)).key
    with c.uow(write=False) as uow:
        return auth.authenticate(uow, key)


def app_key(c: Container, app: str) -> str:
    """A new key for `app:APP`, creating the app on first use."""
    try:
        with c.uow() as uow:
            auth.add_app(uow, SYSTEM_ACTOR, AppCreate(name=app))
    except CharterError:
        pass  # the app exists already
    with c.uow() as uow:
        return auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=f"app:{app}")).key


def assessed_model(
    c: Container, system: str, *, answers: dict[str, Any] | None = None, digest: str | None = None
) -> tuple[str, str]:
    """System (minimal risk unless `answers`) → model version 1.0 → a passing assessment: (SYSTEM@1.0, digest)."""
    body = {"name": system, "purpose": "x", "answers": answers or {"prohibited": NO_PROHIBITED}}
    with c.uow() as uow:
        catalog.register_system(uow, SYSTEM_ACTOR, SystemCreate.model_validate(body))
    digest = digest or "sha256:" + os.urandom(32).hex()
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
    return model, digest


FRIA_SECTIONS = {
    "process": "loan officers score credit applications with the model",
    "period_and_frequency": "every application, for the licence period",
    "affected_persons": "consumers applying for credit",
    "risks_of_harm": "wrongful refusal; indirect discrimination",
    "human_oversight": "an officer reviews every refusal",
    "measures": "appeal channel; monthly fairness review; complaints to the credit desk",
}
PLAN_SECTIONS = {
    "data_collection": "gateway capture, hourly windows",
    "evaluation": "monthly review against Art. 9-15",
    "responsibilities": "ML lead, monthly",
    "corrective_actions": "suspend via license conditions; Art. 20 corrective action",
}


def document_obligations(c: Container, model: str) -> list[str]:
    """Submit the FRIA (Art. 27) and post-market plan (Art. 72) SYSTEM@VERSION's obligations call for (the
    built-in licensing policy requires them for activation); the kinds submitted."""
    system, version = model.split("@", 1)
    with c.uow(write=False) as uow:
        kinds = documents.required(system_by_name(uow.session, system))
    for kind in kinds:
        sections = FRIA_SECTIONS if kind == documents.FRIA else PLAN_SECTIONS
        metrics = ["drift.psi_max"] if kind == documents.PLAN else []
        body = documents.DocumentCreate(kind=kind, model_version=version, sections=sections, metrics=metrics)
        with c.uow() as uow:
            documents.submit(uow, SYSTEM_ACTOR, system, body)
    return kinds
