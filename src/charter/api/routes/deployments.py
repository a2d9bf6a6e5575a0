"""Deployments: where a licensed model version serves; decisions for in-process models (the SDK)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.core.pages import Page, paginate
from charter.deployments import service
from charter.deployments.schemas import DecisionCreate, DecisionRead, DeploymentCreate, DeploymentRead

router = APIRouter(tags=["deployments"])

Write = Annotated[Actor, Depends(Authz(P.DEPLOYMENT_WRITE))]
Read = Annotated[Actor, Depends(Authz(P.DEPLOYMENT_READ))]
Call = Annotated[Actor, Depends(Authz(P.INFERENCE_CALL))]


@router.post("/deployments", status_code=201)
def add_deployment(body: DeploymentCreate, actor: Write, c: ContainerDep) -> DeploymentRead:
    """Register a deployment of SYSTEM@VERSION behind an upstream model server."""
    with c.uow() as uow:
        return service.add(uow, actor, body, allow=c.settings.upstream_allowlist)


@router.get("/deployments")
def list_deployments(
    actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[DeploymentRead]:
    """List deployments, by name."""
    with c.uow(write=False) as uow:
        return paginate(service.list_all(uow, actor), cursor, limit)


@router.get("/deployments/{name}")
def show_deployment(name: str, actor: Read, c: ContainerDep) -> DeploymentRead:
    """One deployment."""
    with c.uow(write=False) as uow:
        return service.get(uow, actor, name)


@router.delete("/deployments/{name}")
def remove_deployment(name: str, actor: Write, c: ContainerDep) -> DeploymentRead:
    """Remove a deployment; gateways stop routing to it within a second."""
    with c.uow() as uow:
        return service.remove(uow, actor, name)


@router.post("/deployments/{name}/decisions", status_code=201)
def record_decision(name: str, body: DecisionCreate, actor: Call, c: ContainerDep) -> DecisionRead:
    """Check and audit one call of an in-process model (the `charter.guard` SDK)."""
    with c.uow() as uow:
        return service.record_decision(uow, actor, name, body)
