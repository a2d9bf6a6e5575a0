"""Register the agent system, license its tools and add the MCP deployment, in the data dir of a running Charter
(`CHARTER_HOME`, default `.charter`): a shortcut for the steps a real system goes through (the risk questionnaire,
an evaluation and the license sign-offs, see examples/credit-scoring), so that the agent can be run in a minute.

    python setup.py http://127.0.0.1:9100/mcp

Prints `export SUPPORT_BOT_KEY=…` (the agent's key) and `export TESS_KEY=…` (a reviewer who approves calls).
"""

from __future__ import annotations

import os
import sys

from charter import bootstrap
from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR
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

LICENSE = {
    "model": "support-agent@1.0",
    "env": "production",
    "purposes": ["customer-support"],
    "callers": ["app:support-bot"],
    "tools": ["crm-tools:search_customers", "crm-tools:refund", "crm-tools:delete_customer"],
    "tool_conditions": ["crm-tools:refund => args.amount <= 500"],
    "approvals": ["crm-tools:delete_customer => role:reviewer"],
    "days": 30,
}


def key_for(c: bootstrap.Container, principal: str) -> str:
    with c.uow() as uow:
        return auth.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=principal)).key


def person(c: bootstrap.Container, name: str, role: str, function: str | None = None) -> str:
    with c.uow() as uow:
        auth.add_user(uow, SYSTEM_ACTOR, UserCreate(name=name))
    with c.uow() as uow:
        auth.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal=name, role=role, function=function))
    return key_for(c, name)


def main(upstream: str) -> None:
    c = bootstrap.build(Settings())
    try:
        answers = {"prohibited": NO_PROHIBITED}
        with c.uow() as uow:
            body = {"name": "support-agent", "purpose": "answers customers, looks up and refunds", "answers": answers}
            catalog.register_system(uow, SYSTEM_ACTOR, SystemCreate.model_validate(body))
        digest = "sha256:" + os.urandom(32).hex()
        with c.uow() as uow:
            mv = ModelVersionCreate(version="1.0", digest=digest, size_bytes=1)
            catalog.register_model_version(uow, SYSTEM_ACTOR, "support-agent", mv)
        clean = Assessment(
            results=(), verdict=Verdict.PASS, policy_set_digest=digest[7:], evidence_digest=digest[7:], policies=()
        )
        with c.uow() as uow:  # stands in for `charter evaluate`
            evaluation.record_assessment(uow, SYSTEM_ACTOR, "support-agent@1.0", clean, {})
        with c.uow() as uow:
            auth.add_app(uow, SYSTEM_ACTOR, AppCreate(name="support-bot"))
        agent_key = key_for(c, "app:support-bot")
        person(c, "sam", "ml-engineer")
        with c.uow(write=False) as uow:
            sam = auth.authenticate(uow, key_for(c, "sam"))
        with c.uow() as uow:
            lic = licenses.request(uow, sam, LicenseCreate.model_validate(LICENSE))
        with c.uow(write=False) as uow:
            needed = licenses.status(uow, SYSTEM_ACTOR, lic.id).missing_signoffs
        tess_key = ""
        for fn in needed:
            key = person(c, "tess" if not tess_key else f"tess-{fn}", "reviewer", fn)
            tess_key = tess_key or key
            with c.uow(write=False) as uow:
                reviewer = auth.authenticate(uow, key)
            with c.uow() as uow:
                licenses.sign(
                    uow, reviewer, lic.id, SignOffCreate.model_validate({"function": fn, "decision": "approve"})
                )
        with c.uow() as uow:
            dep = DeploymentCreate(name="crm-tools", kind="mcp", model="support-agent@1.0", upstream=upstream)
            deployments.add(uow, SYSTEM_ACTOR, dep, allow=c.settings.upstream_allowlist)
    finally:
        c.close()
    print(f"# license {lic.id}, deployment crm-tools → {upstream}")
    print(f"export SUPPORT_BOT_KEY={agent_key}")
    print(f"export TESS_KEY={tess_key}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9100/mcp")
