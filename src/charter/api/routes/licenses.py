"""Licenses: request, sign-offs, activation, suspension, tokens, the CI check, re-audit tasks; and the public
verification material (JWKS, signed status list)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.core.pages import Page, paginate
from charter.core.wellknown import JWKS_PATH, STATUS_LIST_PATH
from charter.licenses import jose, reaudit, service
from charter.licenses.issuer import current_status_list
from charter.licenses.model import StateAction
from charter.licenses.runtime import issuer_for
from charter.licenses.schemas import (
    AuditTaskComplete,
    AuditTaskRead,
    CheckResult,
    LicenseCreate,
    LicenseRead,
    LicenseStatus,
    RenewCreate,
    StateChange,
    TokenRead,
)
from charter.signoffs.schemas import SignOffCreate, SignOffRead

if TYPE_CHECKING:
    from charter.api.public import Public

router = APIRouter(tags=["licenses"])

Read = Annotated[Actor, Depends(Authz(P.LICENSE_READ))]
Requester = Annotated[Actor, Depends(Authz(P.LICENSE_REQUEST))]
SignOff = Annotated[Actor, Depends(Authz(P.LICENSE_SIGNOFF))]
Manage = Annotated[Actor, Depends(Authz(P.LICENSE_MANAGE))]


@router.post("/licenses", status_code=201)
def request_license(body: LicenseCreate, actor: Requester, c: ContainerDep) -> LicenseRead:
    """Request a license for SYSTEM@VERSION in one scope; reviewers are notified."""
    with c.uow() as uow:
        return service.request(uow, actor, body)


@router.get("/licenses")
def list_licenses(
    actor: Read,
    c: ContainerDep,
    state: Annotated[str | None, Query(max_length=12)] = None,
    system: Annotated[str | None, Query(max_length=120)] = None,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[LicenseRead]:
    """List licenses (by state, system, or expiring within N days)."""
    within = timedelta(days=expiring_within_days) if expiring_within_days is not None else None
    with c.uow(write=False) as uow:
        found = service.list_licenses(uow, actor, state=state, system=system, expiring_within=within)
        return paginate(found, cursor, limit)


@router.get("/licenses/check")
def check(
    actor: Read,
    c: ContainerDep,
    model: Annotated[str, Query(max_length=250, description="SYSTEM@VERSION")],
    env: Annotated[str, Query(max_length=60)],
    purpose: Annotated[str | None, Query(max_length=200)] = None,
) -> CheckResult:
    """Whether an active license covers the model version in the environment (for the purpose), and why not."""
    with c.uow(write=False) as uow:
        return service.check(uow, actor, model, env, purpose)


@router.get("/licenses/{license_id}")
def show_license(license_id: str, actor: Read, c: ContainerDep) -> LicenseRead:
    """One license."""
    with c.uow(write=False) as uow:
        return service.get(uow, actor, license_id)


@router.get("/licenses/{license_id}/status")
def license_status(license_id: str, actor: Read, c: ContainerDep) -> LicenseStatus:
    """State, sign-offs and assessment, with the list of what is still missing."""
    with c.uow(write=False) as uow:
        return service.status(uow, actor, license_id)


@router.get("/licenses/{license_id}/signoffs")
def list_signoffs(
    license_id: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[SignOffRead]:
    """Every sign-off decision on the license (all stages)."""
    with c.uow(write=False) as uow:
        return paginate(service.status(uow, actor, license_id).signoffs, cursor, limit)


@router.post("/licenses/{license_id}/signoffs", status_code=201)
def sign(license_id: str, body: SignOffCreate, actor: SignOff, c: ContainerDep) -> LicenseStatus:
    """Approve or reject as a reviewer function; the last required approval activates the license."""
    with c.uow() as uow:
        return service.sign(uow, actor, license_id, body)


@router.post("/licenses/{license_id}/activate")
def activate(license_id: str, actor: Requester, c: ContainerDep) -> LicenseRead:
    """Activate an approved license once its assessment has no blockers."""
    with c.uow() as uow:
        return service.activate(uow, actor, license_id)


@router.post("/licenses/{license_id}/suspend")
def suspend(license_id: str, body: StateChange, actor: Manage, c: ContainerDep) -> LicenseRead:
    """Suspend an active license (reason, optional category and evidence); reinstating needs policy sign-offs."""
    with c.uow() as uow:
        return service.change_state(uow, actor, license_id, StateAction.SUSPEND, body)


@router.post("/licenses/{license_id}/reinstate")
def reinstate(license_id: str, body: StateChange, actor: Manage, c: ContainerDep) -> LicenseRead:
    """Reinstate a suspended license once its reinstatement sign-offs are in."""
    with c.uow() as uow:
        return service.change_state(uow, actor, license_id, StateAction.REINSTATE, body)


@router.post("/licenses/{license_id}/revoke")
def revoke(license_id: str, body: StateChange, actor: Manage, c: ContainerDep) -> LicenseRead:
    """Revoke a license for good."""
    with c.uow() as uow:
        return service.change_state(uow, actor, license_id, StateAction.REVOKE, body)


@router.post("/licenses/{license_id}/renew", status_code=201)
def renew(license_id: str, body: RenewCreate, actor: Requester, c: ContainerDep) -> LicenseRead:
    """Request a new license with the same scope, linked to this one."""
    with c.uow() as uow:
        return service.renew(uow, actor, license_id, body)


@router.get("/licenses/{license_id}/token")
def token(license_id: str, actor: Read, c: ContainerDep) -> TokenRead:
    """The signed license token (JWT) of an active license."""
    with c.uow(write=False) as uow:
        return service.token(uow, actor, license_id, issuer_for(c))


@router.get("/reaudits")
def list_reaudits(
    actor: Read,
    c: ContainerDep,
    status: Annotated[str | None, Query(max_length=12)] = None,
    system: Annotated[str | None, Query(max_length=120)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[AuditTaskRead]:
    """Re-audit tasks, soonest due first."""
    with c.uow(write=False) as uow:
        return paginate(reaudit.list_tasks(uow, actor, status=status, system=system), cursor, limit)


@router.post("/reaudits/{task_id}/complete")
def complete_reaudit(task_id: str, body: AuditTaskComplete, actor: Manage, c: ContainerDep) -> AuditTaskRead:
    """Record that a re-audit was done."""
    with c.uow() as uow:
        resource = catalog.system_resource(uow, reaudit.task_system(uow, task_id))
        return reaudit.complete(uow, actor, task_id, body.note, resource)


def register_public(public: Public) -> None:
    """JWKS and the signed status list: anyone may fetch them to verify licenses offline."""
    container: Container = public.container

    async def jwks(_: Request) -> Response:
        return JSONResponse(jose.jwks(container.keys.license), headers={"Cache-Control": "public, max-age=300"})

    async def status_list(_: Request) -> Response:
        token = await run_in_threadpool(current_status_list, container.uow, issuer_for(container))
        return Response(token, media_type="application/statuslist+jwt", headers={"Cache-Control": "no-cache"})

    public.add(JWKS_PATH, jwks)
    public.add(STATUS_LIST_PATH, status_list)
