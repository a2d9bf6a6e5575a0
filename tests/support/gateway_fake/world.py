"""A licensed model version for gateway tests: system → model version → clean assessment → active license → app."""

from __future__ import annotations

from dataclasses import dataclass

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.signoffs.schemas import SignOffCreate
from tests.support.builders import app_key, assessed_model, user


@dataclass(frozen=True)
class Licensed:
    model: str  # SYSTEM@VERSION
    digest: str
    license_id: str
    app_key: str  # app:loan-portal, a caller of the license


def licensed(
    c: Container,
    *,
    system: str = "credit",
    tools: tuple[str, ...] = ("lookup_customer",),
    purpose: str = "credit-scoring",
    app: str = "loan-portal",
    **extra: list[str],
) -> Licensed:
    """Everything a gateway call needs, through the domain services; the license is active. `extra`: more license
    request fields (`tool_conditions`, `approvals`)."""
    model, digest = assessed_model(c, system)
    key = app_key(c, app)
    suffix = "" if system == "credit" else f"-{system}"  # a second licensed system in one data dir
    body = {
        "model": model,
        "env": "production",
        "purposes": [purpose],
        "callers": [f"app:{app}"],
        "tools": list(tools),
        "days": 30,
        **extra,
    }
    with c.uow() as uow:
        lic = licenses.request(uow, user(c, "rita" + suffix, "ml-engineer"), LicenseCreate.model_validate(body))
    with c.uow(write=False) as uow:
        needed = licenses.status(uow, SYSTEM_ACTOR, lic.id).missing_signoffs
    for fn in needed:
        reviewer = user(c, f"rev-{fn}{suffix}", "reviewer", fn)
        with c.uow() as uow:
            licenses.sign(uow, reviewer, lic.id, SignOffCreate.model_validate({"function": fn, "decision": "approve"}))
    with c.uow(write=False) as uow:
        state = licenses.get(uow, SYSTEM_ACTOR, lic.id).state
    if state != "active":
        raise AssertionError(f"license {lic.id} is {state}, not active")
    return Licensed(model=model, digest=digest, license_id=lic.id, app_key=key)
