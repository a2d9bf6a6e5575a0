"""Principals: users (with an optional dashboard password), teams, apps (service accounts); disable and enable them.

Every state-changing function takes `uow` and `actor` first, calls `authorize()` first, records its audit
event in the same transaction and commits once.
"""

from __future__ import annotations

from charter.auth import repository as repo
from charter.auth.api_keys import insert_key
from charter.auth.authorize import authorize
from charter.auth.model import PRINCIPALS, Actor, Permission, Role
from charter.auth.passwords import hash_password
from charter.auth.roles import label
from charter.auth.schemas import AppCreate, KeyCreated, PrincipalRead, TeamCreate, TeamRead, UserCreate
from charter.auth.tables import PrincipalRow
from charter.core.errors import Conflict, ErrorCode, NotFound
from charter.core.events import AuditEvent
from charter.storage.uow import UnitOfWork


def principal_read(uow: UnitOfWork, row: PrincipalRow) -> PrincipalRead:
    return PrincipalRead(
        id=row.id,
        kind=row.kind,
        name=row.name,
        display_name=row.display_name,
        email=row.email,
        teams=repo.teams_of(uow.session, row.id),
        roles=[label(b) for b in repo.grants_of(uow.session, row.id)],
        disabled=bool(row.disabled),
        created_at=row.created_at,
    )


def _join_team(uow: UnitOfWork, row: PrincipalRow, team: str | None) -> None:
    if team:
        repo.join_team(uow.session, row.id, team)


def add_user(uow: UnitOfWork, actor: Actor, data: UserCreate) -> PrincipalRead:
    """Create a user (optionally in a team, optionally with a dashboard password)."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    row = repo.add_principal(
        uow.session,
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
    out = principal_read(uow, row)
    uow.commit()
    return out


def set_password(uow: UnitOfWork, actor: Actor, name: str, password: str) -> PrincipalRead:
    """Set a user's dashboard password: an admin's act, or a user's for themselves. The Argon2id hash is stored, the
    audit entry names no secret, and the user's dashboard sessions end (a new password signs everyone out)."""
    row = repo.principal_named(uow.session, "user", name)
    if row is None or row.id != actor.id:
        authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    if row is None:
        raise NotFound(f"no user named '{name}' (see: charter user list)", code=ErrorCode.PRINCIPAL_NOT_FOUND)
    row.password_hash = hash_password(password)
    details: dict[str, object] = {"sessions_ended": repo.end_sessions(uow.session, row.id)}
    uow.record(AuditEvent(actor.ref, "user.set_password", f"user:{name}", details=details))
    out = principal_read(uow, row)
    uow.commit()
    return out


def add_team(uow: UnitOfWork, actor: Actor, data: TeamCreate) -> TeamRead:
    """Create a team."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    if repo.team_exists(uow.session, data.name):
        raise Conflict(f"team '{data.name}' already exists", code=ErrorCode.TEAM_EXISTS, field="name")
    row = repo.add_team(uow.session, data.name)
    uow.record(AuditEvent(actor.ref, "team.create", f"team:{data.name}"))
    uow.commit()
    return TeamRead(id=row.id, name=row.name, members=[], created_at=row.created_at)


def add_app(uow: UnitOfWork, actor: Actor, data: AppCreate) -> PrincipalRead:
    """Create a service account (an app that calls models); it gets the `app` role."""
    authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    row = repo.add_principal(uow.session, "app", data.name)
    _join_team(uow, row, data.team)
    repo.add_binding(uow.session, row.id, Role.APP)
    uow.record(AuditEvent(actor.ref, "app.create", f"app:{data.name}", details={"team": data.team}))
    uow.session.flush()
    out = principal_read(uow, row)
    uow.commit()
    return out


def set_disabled(
    uow: UnitOfWork, actor: Actor, kind: str, name: str, *, disabled: bool, reason: str | None = None
) -> PrincipalRead:
    """Disable a user or app (its keys and password stop working, its dashboard sessions are deleted) or enable it
    again (its unrevoked keys and its password work again; its old sessions do not).

    Disabling yourself or the last enabled admin is refused: nobody could undo it. Repeating a change is a no-op.
    """
    authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    row = repo.principal_named(uow.session, kind, name)
    if row is None:
        raise NotFound(f"no {kind} named '{name}' (see: charter {kind} list)", code=ErrorCode.PRINCIPAL_NOT_FOUND)
    if disabled and not row.disabled:
        if row.id == actor.id:
            raise Conflict("you cannot disable yourself; ask another admin", code=ErrorCode.CANNOT_DISABLE_SELF)
        if repo.is_admin(uow.session, row.id):
            repo.lock_admins(uow.session)
            if repo.enabled_admins(uow.session) <= 1:
                raise Conflict(
                    f"{kind} '{name}' is the last enabled admin; grant admin to someone else first",
                    code=ErrorCode.LAST_ADMIN,
                )
    if bool(row.disabled) != disabled:
        row.disabled = disabled
        action = f"{kind}.{'disable' if disabled else 'enable'}"
        details: dict[str, object] = {"reason": reason}
        if disabled:  # enabling again must not revive them: the person signs in afresh
            details["sessions_ended"] = repo.end_sessions(uow.session, row.id)
        uow.record(AuditEvent(actor.ref, action, f"{kind}:{name}", details=details))
    out = principal_read(uow, row)
    uow.commit()
    return out


def list_principals(uow: UnitOfWork, actor: Actor, kind: str | None = None) -> list[PrincipalRead]:
    """List users and apps."""
    authorize(actor, Permission.PRINCIPAL_READ, PRINCIPALS)
    return [principal_read(uow, r) for r in repo.principals(uow.session, kind)]


def list_teams(uow: UnitOfWork, actor: Actor) -> list[TeamRead]:
    """List teams with their members."""
    authorize(actor, Permission.PRINCIPAL_READ, PRINCIPALS)
    return [
        TeamRead(
            id=team.id,
            name=team.name,
            members=[repo.ref_of(m) for m in repo.members_of(uow.session, team.id)],
            created_at=team.created_at,
        )
        for team in repo.teams(uow.session)
    ]


def bootstrap_admin(uow: UnitOfWork, name: str = "admin") -> KeyCreated | None:
    """Create the first admin and its key, once; returns None when an admin already exists."""
    if repo.any_admin(uow.session):
        return None
    row = repo.add_principal(uow.session, "user", name)
    repo.add_binding(uow.session, row.id, Role.ADMIN)
    out = insert_key(uow, row, "initial admin key", None)
    uow.record(AuditEvent("system:charter", "user.create", f"user:{name}", details={"role": "admin", "init": True}))
    uow.commit()
    return out
