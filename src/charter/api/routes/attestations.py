"""Attestations of controls no rule can check, and per-system control status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.attestations import service
from charter.attestations.schemas import AttestationCreate, AttestationRead, ControlsStatus
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.core.pages import Page, paginate

router = APIRouter(tags=["attestations"])

Attest = Annotated[Actor, Depends(Authz(P.CONTROL_ATTEST))]
Read = Annotated[Actor, Depends(Authz(P.CATALOG_READ))]


@router.post("/systems/{name}/attestations", status_code=201)
def attest(name: str, body: AttestationCreate, actor: Attest, c: ContainerDep) -> AttestationRead:
    """Attest a control for the system: statement, evidence file (sha256; stored when sent), validity."""
    with c.uow() as uow:
        return service.attest(uow, actor, name, body)


@router.get("/systems/{name}/attestations")
def list_attestations(
    name: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[AttestationRead]:
    """The system's attestations, newest first."""
    with c.uow(write=False) as uow:
        return paginate(service.list_attestations(uow, actor, name), cursor, limit)


@router.get("/systems/{name}/controls")
def controls_status(
    name: str,
    actor: Read,
    c: ContainerDep,
    framework: Annotated[str, Query(description="eu-ai-act (default), gdpr, nist-ai-rmf, iso-42001")] = "eu-ai-act",
) -> ControlsStatus:
    """Each control's status for the system: auto_checked, attested, expired, missing or not_applicable (why)."""
    with c.uow(write=False) as uow:
        return service.status(uow, actor, name, framework=framework)
