"""Identity queries and inserts: principals, teams, API keys, role bindings, dashboard sessions. Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from charter.auth.model import Actor, Grant, Role, ScopeKind
from charter.auth.tables import ApiKeyRow, PrincipalRow, RoleBindingRow, TeamMemberRow, TeamRow, WebSessionRow
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput, NotFound
from charter.core.ids import new_id


def parse_ref(ref: str) -> tuple[str, str]:
    """`user:alice` → ("user", "alice"); a bare name is a user."""
    kind, _, name = ref.partition(":") if ":" in ref else ("user", "", ref)
    if kind not in {"user", "app"} or not name:
        raise InvalidInput(f"principal '{ref}' must be user:NAME, app:NAME or a bare user name", field="principal")
    return kind, name


def principal_by_ref(session: Session, ref: str) -> PrincipalRow:
    kind, name = parse_ref(ref)
    row = session.scalar(select(PrincipalRow).where(PrincipalRow.kind == kind, PrincipalRow.name == name))
    if row is None:
        raise NotFound(
            f"no {kind} named '{name}'; create it with: charter {kind} add {name}", code=ErrorCode.PRINCIPAL_NOT_FOUND
        )
    return row


def team_by_name(session: Session, name: str) -> TeamRow:
    row = session.scalar(select(TeamRow).where(TeamRow.name == name))
    if row is None:
        raise NotFound(
            f"no team named '{name}'; create it with: charter team add {name}", code=ErrorCode.TEAM_NOT_FOUND
        )
    return row


def teams_of(session: Session, principal_id: str) -> list[str]:
    stmt = (
        select(TeamRow.name)
        .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
        .where(TeamMemberRow.principal_id == principal_id)
        .order_by(TeamRow.name)
    )
    return list(session.scalars(stmt))


def grants_of(session: Session, principal_id: str) -> list[RoleBindingRow]:
    stmt = select(RoleBindingRow).where(RoleBindingRow.principal_id == principal_id).order_by(RoleBindingRow.created_at)
    return list(session.scalars(stmt))


def actor_for(session: Session, row: PrincipalRow, key_id: str | None = None) -> Actor:
    grants = tuple(
        Grant(Role(b.role), ScopeKind(b.scope_kind), b.scope_name, b.function) for b in grants_of(session, row.id)
    )
    return Actor(
        id=row.id,
        kind=row.kind,
        name=row.name,
        grants=grants,
        teams=tuple(teams_of(session, row.id)),
        key_id=key_id,
    )


def ref_of(row: PrincipalRow) -> str:
    return f"{row.kind}:{row.name}"


# Principals


def principal_named(session: Session, kind: str, name: str) -> PrincipalRow | None:
    return session.scalar(select(PrincipalRow).where(PrincipalRow.kind == kind, PrincipalRow.name == name))


def principal_by_id(session: Session, principal_id: str) -> PrincipalRow | None:
    return session.get(PrincipalRow, principal_id)


def principals(session: Session, kind: str | None = None) -> list[PrincipalRow]:
    stmt = select(PrincipalRow).order_by(PrincipalRow.kind, PrincipalRow.name)
    if kind:
        stmt = stmt.where(PrincipalRow.kind == kind)
    return list(session.scalars(stmt))


def add_principal(session: Session, kind: str, name: str, **fields: str | None) -> PrincipalRow:
    """Insert a user or app (Conflict when one of that kind and name exists), flushed so its id can be referenced."""
    exists = session.scalar(select(PrincipalRow.id).where(PrincipalRow.kind == kind, PrincipalRow.name == name))
    if exists is not None:
        raise Conflict(f"{kind} '{name}' already exists", code=ErrorCode.PRINCIPAL_EXISTS, field="name")
    row = PrincipalRow(id=new_id("prn"), kind=kind, name=name, created_at=utcnow(), disabled=False, **fields)
    session.add(row)
    session.flush()
    return row


def end_sessions(session: Session, principal_id: str) -> int:
    """Delete the principal's dashboard sessions; how many there were."""
    ended = session.execute(delete(WebSessionRow).where(WebSessionRow.principal_id == principal_id))
    return int(getattr(ended, "rowcount", 0) or 0)


# Teams


def team_exists(session: Session, name: str) -> bool:
    return session.scalar(select(TeamRow.id).where(TeamRow.name == name)) is not None


def add_team(session: Session, name: str) -> TeamRow:
    row = TeamRow(id=new_id("team"), name=name, created_at=utcnow())
    session.add(row)
    return row


def join_team(session: Session, principal_id: str, team: str) -> None:
    session.add(TeamMemberRow(team_id=team_by_name(session, team).id, principal_id=principal_id))


def teams(session: Session) -> list[TeamRow]:
    return list(session.scalars(select(TeamRow).order_by(TeamRow.name)))


def members_of(session: Session, team_id: str) -> list[PrincipalRow]:
    stmt = select(PrincipalRow).join(TeamMemberRow).where(TeamMemberRow.team_id == team_id).order_by(PrincipalRow.name)
    return list(session.scalars(stmt))


# API keys


def key_by_id(session: Session, key_id: str) -> ApiKeyRow | None:
    return session.get(ApiKeyRow, key_id)


def key_by_prefix(session: Session, prefix: str) -> ApiKeyRow | None:
    return session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))


def keys_with_owners(session: Session, principal_id: str | None = None) -> list[tuple[ApiKeyRow, PrincipalRow]]:
    """API keys (of one principal, or all) with their owners, oldest first."""
    stmt = select(ApiKeyRow, PrincipalRow).join(PrincipalRow, PrincipalRow.id == ApiKeyRow.principal_id)
    if principal_id is not None:
        stmt = stmt.where(ApiKeyRow.principal_id == principal_id)
    stmt = stmt.order_by(ApiKeyRow.created_at)
    return list(session.execute(stmt).tuples())


def add_key(
    session: Session,
    principal_id: str,
    *,
    prefix: str,
    secret_hash: str,
    name: str | None,
    created_at: datetime,
    expires_at: datetime | None,
) -> ApiKeyRow:
    row = ApiKeyRow(
        id=new_id("key"),
        prefix=prefix,
        secret_hash=secret_hash,
        principal_id=principal_id,
        name=name,
        created_at=created_at,
        expires_at=expires_at,
        revoked_at=None,
    )
    session.add(row)
    return row


# Role bindings


def add_binding(
    session: Session, principal_id: str, role: Role, *, function: str = "", scope: tuple[ScopeKind, str] | None = None
) -> RoleBindingRow:
    scope_kind, scope_name = scope or (ScopeKind.GLOBAL, "")
    row = RoleBindingRow(
        id=new_id("rb"),
        principal_id=principal_id,
        role=role,
        function=function,
        scope_kind=scope_kind,
        scope_name=scope_name,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def binding(
    session: Session, principal_id: str, role: Role, function: str, scope_kind: ScopeKind, scope_name: str
) -> RoleBindingRow | None:
    return session.scalar(
        select(RoleBindingRow).where(
            RoleBindingRow.principal_id == principal_id,
            RoleBindingRow.role == role,
            RoleBindingRow.function == function,
            RoleBindingRow.scope_kind == scope_kind,
            RoleBindingRow.scope_name == scope_name,
        )
    )


def remove_binding(session: Session, row: RoleBindingRow) -> None:
    session.delete(row)


def bindings_with_principals(session: Session) -> list[tuple[PrincipalRow, RoleBindingRow]]:
    rows = session.execute(
        select(PrincipalRow, RoleBindingRow)
        .join(RoleBindingRow, RoleBindingRow.principal_id == PrincipalRow.id)
        .order_by(PrincipalRow.name, RoleBindingRow.created_at)
    ).tuples()
    return list(rows)


def is_admin(session: Session, principal_id: str) -> bool:
    stmt = select(RoleBindingRow.id).where(
        RoleBindingRow.principal_id == principal_id, RoleBindingRow.role == Role.ADMIN
    )
    return session.scalar(stmt.limit(1)) is not None


def any_admin(session: Session) -> bool:
    return session.scalar(select(RoleBindingRow.id).where(RoleBindingRow.role == Role.ADMIN).limit(1)) is not None


def lock_admins(session: Session) -> None:
    """Lock every admin binding until the transaction ends, so that two changes that each remove one admin (disable,
    revoke) cannot both count the other as still enabled (write skew under PostgreSQL's READ COMMITTED): the second
    waits, then counts what the first committed. SQLite write transactions are serialized already (BEGIN IMMEDIATE)."""
    session.scalars(select(RoleBindingRow.id).where(RoleBindingRow.role == Role.ADMIN).with_for_update()).all()


def enabled_admins(session: Session) -> int:
    stmt = (
        select(func.count(func.distinct(RoleBindingRow.principal_id)))
        .join(PrincipalRow, PrincipalRow.id == RoleBindingRow.principal_id)
        .where(RoleBindingRow.role == Role.ADMIN, PrincipalRow.disabled.is_(False))
    )
    return int(session.scalar(stmt) or 0)
