"""Users, teams, apps, API keys, role bindings, whoami."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth import service
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.auth.schemas import (
    AppCreate,
    KeyCreate,
    KeyCreated,
    KeyRead,
    PasswordSet,
    PrincipalDisable,
    PrincipalRead,
    RoleBindingRead,
    RoleGrant,
    TeamCreate,
    TeamRead,
    UserCreate,
    WhoAmI,
)
from charter.core.pages import Page, paginate

router = APIRouter(tags=["identity"])

Manage = Annotated[Actor, Depends(Authz(P.PRINCIPAL_MANAGE))]
ReadPrincipals = Annotated[Actor, Depends(Authz(P.PRINCIPAL_READ))]
Anyone = Annotated[Actor, Depends(Authz(None))]


@router.get("/whoami")
def whoami(actor: Anyone) -> WhoAmI:
    """The caller's identity, teams, roles and permissions."""
    return service.whoami(actor)


@router.post("/users", status_code=201)
def add_user(body: UserCreate, actor: Manage, c: ContainerDep) -> PrincipalRead:
    """Create a user."""
    with c.uow() as uow:
        return service.add_user(uow, actor, body)


@router.get("/users")
def list_users(
    actor: ReadPrincipals, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[PrincipalRead]:
    """List users, by name."""
    with c.uow(write=False) as uow:
        return paginate(service.list_principals(uow, actor, "user"), cursor, limit)


@router.post("/users/{name}/disable")
def disable_user(name: str, body: PrincipalDisable, actor: Manage, c: ContainerDep) -> PrincipalRead:
    """Disable a user: their API keys and password stop working, their dashboard sessions are ended."""
    with c.uow() as uow:
        return service.set_disabled(uow, actor, "user", name, disabled=True, reason=body.reason)


@router.post("/users/{name}/enable")
def enable_user(name: str, actor: Manage, c: ContainerDep) -> PrincipalRead:
    """Enable a disabled user again (their unrevoked keys work again)."""
    with c.uow() as uow:
        return service.set_disabled(uow, actor, "user", name, disabled=False)


@router.put("/users/{name}/password")
def set_password(name: str, body: PasswordSet, actor: Anyone, c: ContainerDep) -> PrincipalRead:
    """Set a user's dashboard password (admins for anyone, a user for themselves); their dashboard sessions end."""
    with c.uow() as uow:
        return service.set_password(uow, actor, name, body.password)


@router.post("/teams", status_code=201)
def add_team(body: TeamCreate, actor: Manage, c: ContainerDep) -> TeamRead:
    """Create a team."""
    with c.uow() as uow:
        return service.add_team(uow, actor, body)


@router.get("/teams")
def list_teams(actor: ReadPrincipals, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT) -> Page[TeamRead]:
    """List teams and members."""
    with c.uow(write=False) as uow:
        return paginate(service.list_teams(uow, actor), cursor, limit)


@router.post("/apps", status_code=201)
def add_app(body: AppCreate, actor: Manage, c: ContainerDep) -> PrincipalRead:
    """Create an app (service account) that may call licensed models."""
    with c.uow() as uow:
        return service.add_app(uow, actor, body)


@router.get("/apps")
def list_apps(
    actor: ReadPrincipals, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[PrincipalRead]:
    """List apps, by name."""
    with c.uow(write=False) as uow:
        return paginate(service.list_principals(uow, actor, "app"), cursor, limit)


@router.post("/apps/{name}/disable")
def disable_app(name: str, body: PrincipalDisable, actor: Manage, c: ContainerDep) -> PrincipalRead:
    """Disable an app: the gateway refuses its keys within the key cache's 5 s."""
    with c.uow() as uow:
        return service.set_disabled(uow, actor, "app", name, disabled=True, reason=body.reason)


@router.post("/apps/{name}/enable")
def enable_app(name: str, actor: Manage, c: ContainerDep) -> PrincipalRead:
    """Enable a disabled app again."""
    with c.uow() as uow:
        return service.set_disabled(uow, actor, "app", name, disabled=False)


@router.post("/keys", status_code=201)
def create_key(body: KeyCreate, actor: Anyone, c: ContainerDep) -> KeyCreated:
    """Create an API key (yours, or anyone's as admin; apps cannot), expiring within CHARTER_KEY_MAX_DAYS. The key is
    in the response once."""
    with c.uow() as uow:
        return service.create_key(uow, actor, body, max_days=c.settings.key_max_days)


@router.get("/keys")
def list_keys(
    actor: Anyone,
    c: ContainerDep,
    principal: Annotated[str | None, Query(max_length=130)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[KeyRead]:
    """List API keys (prefixes, never secrets)."""
    with c.uow(write=False) as uow:
        return paginate(service.list_keys(uow, actor, principal), cursor, limit)


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, actor: Anyone, c: ContainerDep) -> KeyRead:
    """Revoke an API key."""
    with c.uow() as uow:
        return service.revoke_key(uow, actor, key_id)


@router.post("/roles", status_code=201)
def grant_role(body: RoleGrant, actor: Manage, c: ContainerDep) -> RoleBindingRead:
    """Grant a role to a principal."""
    with c.uow() as uow:
        return service.grant_role(uow, actor, body)


@router.post("/roles/revoke")
def revoke_role(body: RoleGrant, actor: Manage, c: ContainerDep) -> RoleBindingRead:
    """Revoke a role binding."""
    with c.uow() as uow:
        return service.revoke_role(uow, actor, body)


@router.get("/roles")
def list_roles(
    actor: ReadPrincipals, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[RoleBindingRead]:
    """List role bindings."""
    with c.uow(write=False) as uow:
        return paginate(service.list_roles(uow, actor), cursor, limit)
