"""Identity queries. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.auth.model import Actor, Grant, Role, ScopeKind
from charter.auth.tables import PrincipalRow, RoleBindingRow, TeamMemberRow, TeamRow
from charter.core.errors import ErrorCode, InvalidInput, NotFound


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
