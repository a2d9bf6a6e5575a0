"""THE authorization check. Every state-changing service call goes through `authorize()`."""

from __future__ import annotations

from charter.auth.model import ROLE_PERMISSIONS, Actor, Permission, Resource, Role
from charter.core.errors import ErrorCode, Forbidden


def allowed(actor: Actor, permission: Permission, resource: Resource | None = None, *, function: str = "") -> bool:
    """True when one of the actor's grants gives `permission` over `resource` (and `function`, if asked)."""
    for grant in actor.grants:
        if permission not in ROLE_PERMISSIONS[grant.role]:
            continue
        if function and grant.function != function:
            continue
        if grant.covers(resource):
            return True
    return False


def only_as_caller(actor: Actor, permission: Permission, resource: Resource | None = None) -> bool:
    """True when no grant but the `app` role's gives `permission` on `resource`. Such an actor reads only what it is
    a caller of (the licenses naming it, the deployments they cover); everything else is hidden as if absent."""
    return not any(
        g.role is not Role.APP and permission in ROLE_PERMISSIONS[g.role] and g.covers(resource) for g in actor.grants
    )


def roles_with(permission: Permission) -> list[str]:
    return sorted(str(r) for r, perms in ROLE_PERMISSIONS.items() if permission in perms)


def authorize(actor: Actor, permission: Permission, resource: Resource | None = None, *, function: str = "") -> None:
    """Raise `Forbidden` (403) unless `actor` may do `permission` on `resource`.

    A resource on a system that holds a production license additionally needs `catalog.write_production`
    for catalog writes: only senior engineers (or admins) may change production AI systems.
    """
    if not allowed(actor, permission, resource, function=function):
        raise _forbidden(actor, permission, resource, function)
    if permission is Permission.CATALOG_WRITE and resource is not None and resource.production:
        if not allowed(actor, Permission.CATALOG_WRITE_PRODUCTION, resource):
            raise Forbidden(
                f"{resource.ref} holds a production license: changing it needs the "
                f"'{Role.SENIOR_ENGINEER}' role (or admin); {actor.ref} has "
                f"{_held(actor)}. Ask an admin: charter role grant {actor.ref} senior-engineer",
                code=ErrorCode.PRODUCTION_CHANGE_REQUIRES_SENIOR,
            )


def _held(actor: Actor) -> str:
    return ", ".join(g.describe() for g in actor.grants) or "no roles"


def _forbidden(actor: Actor, permission: Permission, resource: Resource | None, function: str) -> Forbidden:
    target = f" on {resource.ref}" if resource is not None else ""
    need = f"reviewer with function '{function}'" if function else " or ".join(roles_with(permission))
    return Forbidden(
        f"{actor.ref} may not {permission}{target}: needs {need}; has {_held(actor)}",
        code=ErrorCode.PERMISSION_DENIED,
        details={"permission": str(permission), "needs": need},
    )


def authorize_any(actor: Actor, permission: Permission) -> None:
    """Raise `Forbidden` unless some grant of the actor carries `permission`, whatever its scope.

    The entrypoints' early check; services still call `authorize()` on the concrete resource.
    """
    if not any(permission in ROLE_PERMISSIONS[g.role] for g in actor.grants):
        raise _forbidden(actor, permission, None, "")
