"""Building blocks of test worlds, through the domain services: people, apps, and assessed model versions."""

from __future__ import annotations

import os
from typing import Any

from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, KeyCreate, RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
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
