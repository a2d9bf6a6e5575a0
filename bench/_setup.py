"""Set up a licensed deployment for the gateway benchmark: `charter init`, then the domain services in-process.

System (minimal risk tier) → model version → an assessment without blockers → license requested by an ML engineer
and signed off by one reviewer per required function → app + key → deployment `credit-prod`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "charter", *args, "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"charter {' '.join(args)} failed ({out.returncode}): {out.stdout} {out.stderr}")
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def licensed_deployment(
    env: dict[str, str],
    upstream: str,
    work: Path,
    *,
    tools: tuple[str, ...] = (),
    tool_conditions: list[str] | None = None,
) -> str:
    """Create everything; returns the API key of app:loan-portal (deployment `credit-prod`, purpose credit-scoring)."""
    del work
    cli(env, "init")
    os.environ.update(env)  # the in-process container reads the same settings as the subprocesses
    from charter import bootstrap
    from charter.auth import service as auth
    from charter.auth.model import SYSTEM_ACTOR, Actor
    from charter.auth.schemas import AppCreate, KeyCreate, RoleGrant, UserCreate
    from charter.catalog import service as catalog
    from charter.catalog.questionnaire import NO_PROHIBITED
    from charter.catalog.schemas import ModelVersionCreate, SystemCreate
    from charter.deployments import service as deployments
    from charter.deployments.schemas import DeploymentCreate
    from charter.evaluation import service as evaluation
    from charter.licenses import service as licenses
    from charter.licenses.schemas import LicenseCreate
    from charter.policies.engine import Assessment, Verdict
    from charter.settings import Settings
    from charter.signoffs.schemas import SignOffCreate

    c = bootstrap.build(Settings())

    def user(name: str, role: str, function: str | None = None) -> Actor:
        with c.uow() as uow:
            auth.add_user(uow, SYSTEM_ACTOR, UserCreate(name=name))
        with c.uow() as uow:
            auth.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal=name, role=role, function=function))
        with c.uow() as uow:
            key = auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=name)).key
        with c.uow(write=False) as uow:
            return auth.authenticate(uow, key)

    try:
        with c.uow() as uow:
            catalog.register_system(
                uow,
                SYSTEM_ACTOR,
                SystemCreate.model_validate(
                    {"name": "credit", "purpose": "credit scoring", "answers": {"prohibited": NO_PROHIBITED}}
                ),
            )
        with c.uow() as uow:
            digest = "sha256:" + os.urandom(32).hex()
            catalog.register_model_version(
                uow, SYSTEM_ACTOR, "credit", ModelVersionCreate(version="1.0", digest=digest, size_bytes=1)
            )
        with c.uow() as uow:
            clean = Assessment(
                results=(), verdict=Verdict.PASS, policy_set_digest=digest[7:], evidence_digest=digest[7:], policies=()
            )
            evaluation.record_assessment(uow, SYSTEM_ACTOR, "credit@1.0", clean, {})
        with c.uow() as uow:
            auth.add_app(uow, SYSTEM_ACTOR, AppCreate(name="loan-portal"))
        with c.uow() as uow:
            app_key = auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="app:loan-portal")).key
        requester = user("rita", "ml-engineer")
        body = {
            "model": "credit@1.0",
            "env": "production",
            "purposes": ["credit-scoring"],
            "callers": ["app:loan-portal"],
            "tools": list(tools),
            "tool_conditions": tool_conditions or [],
            "days": 30,
        }
        with c.uow() as uow:
            lic = licenses.request(uow, requester, LicenseCreate.model_validate(body))
        with c.uow(write=False) as uow:
            needed = licenses.status(uow, SYSTEM_ACTOR, lic.id).missing_signoffs
        for fn in needed:
            reviewer = user(f"rev-{fn}", "reviewer", fn)
            with c.uow() as uow:
                licenses.sign(
                    uow, reviewer, lic.id, SignOffCreate.model_validate({"function": fn, "decision": "approve"})
                )
        with c.uow(write=False) as uow:
            state = licenses.get(uow, SYSTEM_ACTOR, lic.id).state
        if state != "active":
            raise RuntimeError(f"license {lic.id} is {state}, not active")
        with c.uow() as uow:
            deployments.add(
                uow,
                SYSTEM_ACTOR,
                DeploymentCreate(name="credit-prod", model="credit@1.0", env="production", upstream=upstream),
                allow=c.settings.upstream_allowlist,
            )
        with c.uow() as uow:  # the same model behind a plain HTTP deployment, for proxies that ask /authz
            deployments.add(
                uow,
                SYSTEM_ACTOR,
                DeploymentCreate(
                    name="credit-raw", model="credit@1.0", env="production", upstream=upstream, kind="http"
                ),
                allow=c.settings.upstream_allowlist,
            )
    finally:
        c.close()
    return app_key
