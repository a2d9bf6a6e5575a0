"""Role bindings: grant, revoke and list roles (with a reviewer function and a global, team or system scope).

Taking admin from the last enabled admin is refused: nobody could grant it back.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from charter.auth import repository as repo
from charter.auth.authorize import authorize
from charter.auth.model import PRINCIPALS, Actor, Function, Permission, Role, ScopeKind
from charter.auth.schemas import RoleBindingRead, RoleGrant
from charter.auth.tables import PrincipalRow, RoleBindingRow
from charter.core.errors import Conflict, ErrorCode, InvalidInput, NotFound
from charter.core.events import AuditEvent
from charter.storage.uow import UnitOfWork


def binding_read(row: PrincipalRow, b: RoleBindingRow) -> RoleBindingRead:
    scope = "global" if b.scope_kind == ScopeKind.GLOBAL else f"{b.scope_kind}:{b.scope_name}"
    return RoleBindingRead(
        id=b.id,
        principal=repo.ref_of(row),
        role=b.role,
        function=b.function or None,
        scope=scope,
        created_at=b.created_at,
    )


def label(b: RoleBindingRow) -> str:
    """`reviewer(legal)@team:risk`: the role, its function and its scope (none when global)."""
    fn = f"({b.function})" if b.function else ""
    scope = "" if b.scope_kind == ScopeKind.GLOBAL else f"@{b.scope_kind}:{b.scope_name}"
    return b.role + fn + scope


def _parse_scope(scope: str) -> tuple[ScopeKind, str]:
    if scope in ("", "global"):
        return ScopeKind.GLOBAL, ""
    kind, _, name = scope.partition(":")
    if kind not in ("team", "system") or not name:
        raise InvalidInput(f"scope '{scope}' must be global, team:NAME or system:NAME", field="scope")
    return ScopeKind(kind), name


def _parse_role(role: str, function: str | None) -> tuple[Role, str]:
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role '{role}'; roles are: {', '.join(r.value for r in Role)}", field="role"
        ) from None
    fn = function or ""
    if parsed is Role.REVIEWER:
        if fn not in {f.value for f in Function}:
            raise InvalidInput(
                f"role reviewer needs --function, one of: {', '.join(f.value for f in Function)}",
                field="function",
            )
    elif fn:
        raise InvalidInput(f"--function only applies to the reviewer role, not '{role}'", field="function")
    return parsed, fn


def grant_role(uow: UnitOfWork, actor: Actor, data: RoleGrant) -> RoleBindingRead:
    """Bind a role (with a reviewer function and a scope) to a principal."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    role, fn = _parse_role(data.role, data.function)
    scope_kind, scope_name = _parse_scope(data.scope)
    if scope_kind is ScopeKind.TEAM:
        repo.team_by_name(uow.session, scope_name)
    principal = repo.principal_by_ref(uow.session, data.principal)
    row = repo.add_binding(uow.session, principal.id, role, function=fn, scope=(scope_kind, scope_name))
    try:
        uow.session.flush()
    except IntegrityError:
        raise Conflict(
            f"{data.principal} already has {role} {fn} on {data.scope}", code=ErrorCode.ROLE_EXISTS
        ) from None
    out = binding_read(principal, row)
    uow.record(
        AuditEvent(
            actor.ref,
            "role.grant",
            repo.ref_of(principal),
            details={"role": role, "function": fn, "scope": out.scope},
        )
    )
    uow.commit()
    return out


def revoke_role(uow: UnitOfWork, actor: Actor, data: RoleGrant) -> RoleBindingRead:
    """Remove a role binding. Taking admin from the last enabled admin is refused: nobody could grant it back."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    role, fn = _parse_role(data.role, data.function)
    scope_kind, scope_name = _parse_scope(data.scope)
    principal = repo.principal_by_ref(uow.session, data.principal)
    row = repo.binding(uow.session, principal.id, role, fn, scope_kind, scope_name)
    if row is None:
        raise NotFound(f"{data.principal} has no {role} binding on {data.scope}", code=ErrorCode.ROLE_NOT_FOUND)
    out = binding_read(principal, row)
    if role == Role.ADMIN:
        repo.lock_admins(uow.session)
    repo.remove_binding(uow.session, row)
    if role == Role.ADMIN and not principal.disabled:
        uow.session.flush()
        if repo.enabled_admins(uow.session) == 0:
            raise Conflict(
                f"{data.principal} is the last enabled admin; grant admin to someone else first",
                code=ErrorCode.LAST_ADMIN,
            )
    uow.record(
        AuditEvent(
            actor.ref,
            "role.revoke",
            repo.ref_of(principal),
            details={"role": role, "function": fn, "scope": out.scope},
        )
    )
    uow.commit()
    return out


def list_roles(uow: UnitOfWork, actor: Actor) -> list[RoleBindingRead]:
    """List all role bindings."""
    authorize(actor, Permission.PRINCIPAL_READ, PRINCIPALS)
    return [binding_read(p, b) for p, b in repo.bindings_with_principals(uow.session)]
