"""Identity use cases: users, teams, apps, API keys, role bindings, authentication.

Every state-changing function takes `uow` and `actor` first, calls `authorize()` first, records its audit
event in the same transaction and commits once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from charter.auth import keys
from charter.auth.authorize import allowed, authorize
from charter.auth.model import ROLE_PERMISSIONS, Actor, Function, Permission, Resource, Role, ScopeKind
from charter.auth.passwords import dummy_hash, hash_password, verify_password
from charter.auth.repository import (
    actor_for,
    grants_of,
    parse_ref,
    principal_by_ref,
    ref_of,
    team_by_name,
    teams_of,
)
from charter.auth.schemas import (
    AppCreate,
    KeyCreate,
    KeyCreated,
    KeyRead,
    PrincipalRead,
    RoleBindingRead,
    RoleGrant,
    TeamCreate,
    TeamRead,
    UserCreate,
    WhoAmI,
)
from charter.auth.tables import ApiKeyRow, PrincipalRow, RoleBindingRow, TeamMemberRow, TeamRow, WebSessionRow
from charter.core.clock import as_utc, isoformat, utcnow
from charter.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.settings import KEY_MAX_DAYS_DEFAULT
from charter.storage.uow import UnitOfWork

_PRINCIPALS = Resource(kind="principals")


def _read(uow: UnitOfWork, row: PrincipalRow) -> PrincipalRead:
    return PrincipalRead(
        id=row.id,
        kind=row.kind,
        name=row.name,
        display_name=row.display_name,
        email=row.email,
        teams=teams_of(uow.session, row.id),
        roles=[_binding(row, b).role + _suffix(b) for b in grants_of(uow.session, row.id)],
        disabled=bool(row.disabled),
        created_at=row.created_at,
    )


def _suffix(b: RoleBindingRow) -> str:
    fn = f"({b.function})" if b.function else ""
    scope = "" if b.scope_kind == ScopeKind.GLOBAL else f"@{b.scope_kind}:{b.scope_name}"
    return fn + scope


def _binding(row: PrincipalRow, b: RoleBindingRow) -> RoleBindingRead:
    scope = "global" if b.scope_kind == ScopeKind.GLOBAL else f"{b.scope_kind}:{b.scope_name}"
    return RoleBindingRead(
        id=b.id,
        principal=ref_of(row),
        role=b.role,
        function=b.function or None,
        scope=scope,
        created_at=b.created_at,
    )


def _new_principal(uow: UnitOfWork, kind: str, name: str, **fields: str | None) -> PrincipalRow:
    exists = uow.session.scalar(select(PrincipalRow.id).where(PrincipalRow.kind == kind, PrincipalRow.name == name))
    if exists is not None:
        raise Conflict(f"{kind} '{name}' already exists", code="principal_exists", field="name")
    row = PrincipalRow(id=new_id("prn"), kind=kind, name=name, created_at=utcnow(), disabled=False, **fields)
    uow.session.add(row)
    uow.session.flush()
    return row


def _join_team(uow: UnitOfWork, row: PrincipalRow, team: str | None) -> None:
    if team:
        uow.session.add(TeamMemberRow(team_id=team_by_name(uow.session, team).id, principal_id=row.id))


def add_user(uow: UnitOfWork, actor: Actor, data: UserCreate) -> PrincipalRead:
    """Create a user (optionally in a team, optionally with a dashboard password)."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    row = _new_principal(
        uow,
        "user",
        data.name,
        email=data.email,
        display_name=data.display_name,
        password_hash=hash_password(data.password) if data.password else None,
    )
    _join_team(uow, row, data.team)
    uow.record(
        AuditEvent(actor.ref, "user.create", f"user:{data.name}", details={"team": data.team, "email": data.email})
    )
    out = _read(uow, row)
    uow.commit()
    return out


def set_password(uow: UnitOfWork, actor: Actor, name: str, password: str) -> PrincipalRead:
    """Set a user's dashboard password: an admin's act, or a user's for themselves. The Argon2id hash is stored, the
    audit entry names no secret, and the user's dashboard sessions end (a new password signs everyone out)."""
    row = uow.session.scalar(select(PrincipalRow).where(PrincipalRow.kind == "user", PrincipalRow.name == name))
    if row is None or row.id != actor.id:
        authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    if row is None:
        raise NotFound(f"no user named '{name}' (see: charter user list)", code="principal_not_found")
    row.password_hash = hash_password(password)
    ended = uow.session.execute(delete(WebSessionRow).where(WebSessionRow.principal_id == row.id))
    details: dict[str, object] = {"sessions_ended": int(getattr(ended, "rowcount", 0) or 0)}
    uow.record(AuditEvent(actor.ref, "user.set_password", f"user:{name}", details=details))
    out = _read(uow, row)
    uow.commit()
    return out


def add_team(uow: UnitOfWork, actor: Actor, data: TeamCreate) -> TeamRead:
    """Create a team."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    if uow.session.scalar(select(TeamRow.id).where(TeamRow.name == data.name)) is not None:
        raise Conflict(f"team '{data.name}' already exists", code="team_exists", field="name")
    row = TeamRow(id=new_id("team"), name=data.name, created_at=utcnow())
    uow.session.add(row)
    uow.record(AuditEvent(actor.ref, "team.create", f"team:{data.name}"))
    uow.commit()
    return TeamRead(id=row.id, name=row.name, members=[], created_at=row.created_at)


def add_app(uow: UnitOfWork, actor: Actor, data: AppCreate) -> PrincipalRead:
    """Create a service account (an app that calls models); it gets the `app` role."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    row = _new_principal(uow, "app", data.name)
    _join_team(uow, row, data.team)
    uow.session.add(
        RoleBindingRow(
            id=new_id("rb"),
            principal_id=row.id,
            role=Role.APP,
            function="",
            scope_kind=ScopeKind.GLOBAL,
            scope_name="",
            created_at=utcnow(),
        )
    )
    uow.record(AuditEvent(actor.ref, "app.create", f"app:{data.name}", details={"team": data.team}))
    uow.session.flush()
    out = _read(uow, row)
    uow.commit()
    return out


def set_disabled(
    uow: UnitOfWork, actor: Actor, kind: str, name: str, *, disabled: bool, reason: str | None = None
) -> PrincipalRead:
    """Disable a user or app (its keys and password stop working, its dashboard sessions are deleted) or enable it
    again (its unrevoked keys and its password work again; its old sessions do not).

    Disabling yourself or the last enabled admin is refused: nobody could undo it. Repeating a change is a no-op.
    """
    authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    row = uow.session.scalar(select(PrincipalRow).where(PrincipalRow.kind == kind, PrincipalRow.name == name))
    if row is None:
        raise NotFound(f"no {kind} named '{name}' (see: charter {kind} list)", code="principal_not_found")
    if disabled and not row.disabled:
        if row.id == actor.id:
            raise Conflict("you cannot disable yourself; ask another admin", code="cannot_disable_self")
        if _is_admin(uow, row.id):
            _lock_admins(uow)
            if _enabled_admins(uow) <= 1:
                raise Conflict(
                    f"{kind} '{name}' is the last enabled admin; grant admin to someone else first",
                    code="last_admin",
                )
    if bool(row.disabled) != disabled:
        row.disabled = disabled
        action = f"{kind}.{'disable' if disabled else 'enable'}"
        details: dict[str, object] = {"reason": reason}
        if disabled:  # enabling again must not revive them: the person signs in afresh
            ended = uow.session.execute(delete(WebSessionRow).where(WebSessionRow.principal_id == row.id))
            details["sessions_ended"] = int(getattr(ended, "rowcount", 0) or 0)
        uow.record(AuditEvent(actor.ref, action, f"{kind}:{name}", details=details))
    out = _read(uow, row)
    uow.commit()
    return out


def _is_admin(uow: UnitOfWork, principal_id: str) -> bool:
    stmt = select(RoleBindingRow.id).where(
        RoleBindingRow.principal_id == principal_id, RoleBindingRow.role == Role.ADMIN
    )
    return uow.session.scalar(stmt.limit(1)) is not None


def _lock_admins(uow: UnitOfWork) -> None:
    """Lock every admin binding until the transaction ends, so that two changes that each remove one admin (disable,
    revoke) cannot both count the other as still enabled (write skew under PostgreSQL's READ COMMITTED): the second
    waits, then counts what the first committed. SQLite write transactions are serialized already (BEGIN IMMEDIATE)."""
    uow.session.scalars(select(RoleBindingRow.id).where(RoleBindingRow.role == Role.ADMIN).with_for_update()).all()


def _enabled_admins(uow: UnitOfWork) -> int:
    stmt = (
        select(func.count(func.distinct(RoleBindingRow.principal_id)))
        .join(PrincipalRow, PrincipalRow.id == RoleBindingRow.principal_id)
        .where(RoleBindingRow.role == Role.ADMIN, PrincipalRow.disabled.is_(False))
    )
    return int(uow.session.scalar(stmt) or 0)


def list_principals(uow: UnitOfWork, actor: Actor, kind: str | None = None) -> list[PrincipalRead]:
    """List users and apps."""
    authorize(actor, Permission.PRINCIPAL_READ, _PRINCIPALS)
    stmt = select(PrincipalRow).order_by(PrincipalRow.kind, PrincipalRow.name)
    if kind:
        stmt = stmt.where(PrincipalRow.kind == kind)
    return [_read(uow, r) for r in uow.session.scalars(stmt)]


def list_teams(uow: UnitOfWork, actor: Actor) -> list[TeamRead]:
    """List teams with their members."""
    authorize(actor, Permission.PRINCIPAL_READ, _PRINCIPALS)
    out = []
    for team in uow.session.scalars(select(TeamRow).order_by(TeamRow.name)):
        members = uow.session.scalars(
            select(PrincipalRow).join(TeamMemberRow).where(TeamMemberRow.team_id == team.id).order_by(PrincipalRow.name)
        )
        out.append(
            TeamRead(id=team.id, name=team.name, members=[ref_of(m) for m in members], created_at=team.created_at)
        )
    return out


def _key_read(row: ApiKeyRow, principal: str) -> KeyRead:
    return KeyRead(
        id=row.id,
        prefix=row.prefix,
        principal=principal,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _insert_key(uow: UnitOfWork, principal: PrincipalRow, name: str | None, days: int | None) -> KeyCreated:
    new = keys.generate()
    now = utcnow()
    row = ApiKeyRow(
        id=new_id("key"),
        prefix=new.prefix,
        secret_hash=new.secret_hash,
        principal_id=principal.id,
        name=name,
        created_at=now,
        expires_at=now + timedelta(days=days) if days else None,
        revoked_at=None,
    )
    uow.session.add(row)
    return KeyCreated(**_key_read(row, ref_of(principal)).model_dump(), key=new.plaintext)


def create_key(uow: UnitOfWork, actor: Actor, data: KeyCreate, *, max_days: int = KEY_MAX_DAYS_DEFAULT) -> KeyCreated:
    """Create an API key for a principal: users for themselves, `principal.manage` holders for anyone; apps never
    (a stolen app key must not mint another that outlives its revocation). Every key expires within `max_days`
    (CHARTER_KEY_MAX_DAYS): no expiry asked means that one, a longer one is refused."""
    if actor.kind == "app":
        raise Forbidden(
            f"{actor.ref} may not create API keys: an app's keys are created by an admin "
            f"(charter key create {actor.ref})",
            code="app_cannot_create_keys",
        )
    principal = principal_by_ref(uow.session, data.principal)
    if principal.id != actor.id:
        authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    days = data.expires_in_days
    if days is None:
        days = max_days
    elif days > max_days:
        raise InvalidInput(
            f"expires_in_days: {days} is longer than the longest allowed key lifetime, {max_days} days "
            "(CHARTER_KEY_MAX_DAYS); ask for fewer days",
            code="key_lifetime_too_long",
            field="expires_in_days",
            details={"max_days": max_days},
        )
    out = _insert_key(uow, principal, data.name, days)
    uow.record(
        AuditEvent(
            actor.ref,
            "key.create",
            f"key:{out.id}",
            details={"principal": out.principal, "prefix": out.prefix, "expires_at": _iso(out.expires_at)},
        )
    )
    uow.commit()
    return out


def _iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def list_keys(uow: UnitOfWork, actor: Actor, principal: str | None = None) -> list[KeyRead]:
    """List API keys (never the secrets): your own, or anyone's with principal.read."""
    stmt = select(ApiKeyRow, PrincipalRow).join(PrincipalRow, PrincipalRow.id == ApiKeyRow.principal_id)
    if principal is not None:
        row = principal_by_ref(uow.session, principal)
        stmt = stmt.where(ApiKeyRow.principal_id == row.id)
        if row.id != actor.id:
            authorize(actor, Permission.PRINCIPAL_READ, _PRINCIPALS)
    elif not _may(actor, Permission.PRINCIPAL_READ):
        stmt = stmt.where(ApiKeyRow.principal_id == actor.id)
    stmt = stmt.order_by(ApiKeyRow.created_at)
    return [_key_read(k, ref_of(p)) for k, p in uow.session.execute(stmt).tuples()]


def _may(actor: Actor, permission: Permission) -> bool:
    return allowed(actor, permission, _PRINCIPALS)


def revoke_key(uow: UnitOfWork, actor: Actor, key_id: str) -> KeyRead:
    """Revoke an API key; it stops working at once."""
    row = uow.session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFound(f"no API key with id '{key_id}' (see: charter key list)", code="key_not_found")
    if row.principal_id != actor.id:
        authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        uow.record(AuditEvent(actor.ref, "key.revoke", f"key:{row.id}", details={"prefix": row.prefix}))
    owner = uow.session.get(PrincipalRow, row.principal_id)
    assert owner is not None
    out = _key_read(row, ref_of(owner))
    uow.commit()
    return out


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
    authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    role, fn = _parse_role(data.role, data.function)
    scope_kind, scope_name = _parse_scope(data.scope)
    if scope_kind is ScopeKind.TEAM:
        team_by_name(uow.session, scope_name)
    principal = principal_by_ref(uow.session, data.principal)
    row = RoleBindingRow(
        id=new_id("rb"),
        principal_id=principal.id,
        role=role,
        function=fn,
        scope_kind=scope_kind,
        scope_name=scope_name,
        created_at=utcnow(),
    )
    uow.session.add(row)
    try:
        uow.session.flush()
    except IntegrityError:
        raise Conflict(f"{data.principal} already has {role} {fn} on {data.scope}", code="role_exists") from None
    out = _binding(principal, row)
    uow.record(
        AuditEvent(
            actor.ref,
            "role.grant",
            ref_of(principal),
            details={"role": role, "function": fn, "scope": out.scope},
        )
    )
    uow.commit()
    return out


def revoke_role(uow: UnitOfWork, actor: Actor, data: RoleGrant) -> RoleBindingRead:
    """Remove a role binding. Taking admin from the last enabled admin is refused: nobody could grant it back."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, _PRINCIPALS)
    role, fn = _parse_role(data.role, data.function)
    scope_kind, scope_name = _parse_scope(data.scope)
    principal = principal_by_ref(uow.session, data.principal)
    row = uow.session.scalar(
        select(RoleBindingRow).where(
            RoleBindingRow.principal_id == principal.id,
            RoleBindingRow.role == role,
            RoleBindingRow.function == fn,
            RoleBindingRow.scope_kind == scope_kind,
            RoleBindingRow.scope_name == scope_name,
        )
    )
    if row is None:
        raise NotFound(f"{data.principal} has no {role} binding on {data.scope}", code="role_not_found")
    out = _binding(principal, row)
    if role == Role.ADMIN:
        _lock_admins(uow)
    uow.session.delete(row)
    if role == Role.ADMIN and not principal.disabled:
        uow.session.flush()
        if _enabled_admins(uow) == 0:
            raise Conflict(
                f"{data.principal} is the last enabled admin; grant admin to someone else first",
                code="last_admin",
            )
    uow.record(
        AuditEvent(
            actor.ref,
            "role.revoke",
            ref_of(principal),
            details={"role": role, "function": fn, "scope": out.scope},
        )
    )
    uow.commit()
    return out


def list_roles(uow: UnitOfWork, actor: Actor) -> list[RoleBindingRead]:
    """List all role bindings."""
    authorize(actor, Permission.PRINCIPAL_READ, _PRINCIPALS)
    rows = uow.session.execute(
        select(PrincipalRow, RoleBindingRow)
        .join(RoleBindingRow, RoleBindingRow.principal_id == PrincipalRow.id)
        .order_by(PrincipalRow.name, RoleBindingRow.created_at)
    ).tuples()
    return [_binding(p, b) for p, b in rows]


def whoami(actor: Actor) -> WhoAmI:
    """The authenticated principal, its teams, roles and effective permissions."""
    perms = sorted({str(p) for g in actor.grants for p in ROLE_PERMISSIONS[g.role]})
    return WhoAmI(
        id=actor.id,
        kind=actor.kind,
        name=actor.name,
        teams=list(actor.teams),
        roles=[g.describe() for g in actor.grants],
        permissions=perms,
    )


def authenticate(uow: UnitOfWork, plaintext: str) -> Actor:
    """Resolve a presented API key to an actor, or raise 401 (unknown, revoked, expired, disabled)."""
    prefix = keys.parse_prefix(plaintext)
    row = uow.session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
    if row is None or not keys.matches(plaintext, row.secret_hash):
        raise Unauthenticated("API key not recognised", code="invalid_api_key")
    if row.revoked_at is not None:
        raise Unauthenticated("API key has been revoked", code="api_key_revoked")
    if row.expires_at is not None and as_utc(row.expires_at) <= utcnow():
        raise Unauthenticated("API key has expired; create a new one: charter key create", code="api_key_expired")
    principal = uow.session.get(PrincipalRow, row.principal_id)
    if principal is None or principal.disabled:
        raise Unauthenticated("principal is disabled", code="principal_disabled")
    return actor_for(uow.session, principal, key_id=row.id)


def authenticate_password(uow: UnitOfWork, name: str, password: str) -> Actor:
    """Dashboard login with a user name and password (Argon2id)."""
    row = uow.session.scalar(select(PrincipalRow).where(PrincipalRow.kind == "user", PrincipalRow.name == name))
    stored = row.password_hash if row is not None and not row.disabled else None
    # One Argon2 verification whatever the name: an unknown one costs as much as a known one.
    matched = verify_password(stored or dummy_hash(), password)
    if row is None or stored is None or not matched:
        raise Unauthenticated("wrong user name or password", code="invalid_credentials")
    return actor_for(uow.session, row)


def actor_by_id(uow: UnitOfWork, principal_id: str) -> Actor:
    row = uow.session.get(PrincipalRow, principal_id)
    if row is None or row.disabled:
        raise Unauthenticated("principal no longer exists or is disabled", code="principal_disabled")
    return actor_for(uow.session, row)


def has_any_admin(uow: UnitOfWork) -> bool:
    return uow.session.scalar(select(RoleBindingRow.id).where(RoleBindingRow.role == Role.ADMIN).limit(1)) is not None


def bootstrap_admin(uow: UnitOfWork, name: str = "admin") -> KeyCreated | None:
    """Create the first admin and its key, once; returns None when an admin already exists."""
    if has_any_admin(uow):
        return None
    row = _new_principal(uow, "user", name)
    uow.session.add(
        RoleBindingRow(
            id=new_id("rb"),
            principal_id=row.id,
            role=Role.ADMIN,
            function="",
            scope_kind=ScopeKind.GLOBAL,
            scope_name="",
            created_at=utcnow(),
        )
    )
    out = _insert_key(uow, row, "initial admin key", None)
    uow.record(AuditEvent("system:charter", "user.create", f"user:{name}", details={"role": "admin", "init": True}))
    uow.commit()
    return out


__all__ = [
    "actor_by_id",
    "set_disabled",
    "add_app",
    "add_team",
    "add_user",
    "authenticate",
    "authenticate_password",
    "bootstrap_admin",
    "create_key",
    "grant_role",
    "list_keys",
    "list_principals",
    "list_roles",
    "list_teams",
    "parse_ref",
    "revoke_key",
    "revoke_role",
    "set_password",
    "whoami",
]
