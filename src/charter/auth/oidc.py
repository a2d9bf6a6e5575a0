"""Single sign-on users: an OpenID Provider's verified identity → a Charter user whose roles and teams follow the
provider's groups through the CHARTER_OIDC_GROUPS table.

The protocol (discovery, PKCE, token and signature checks) lives with the dashboard (`charter.web.oidc`); this
module only sees claims that were already verified. A user is found by (issuer, sub), else linked by a verified
email, else created; at every sign-in the bindings the groups give are granted and the ones a group no longer gives
are revoked (only those the groups gave: what an admin granted by hand stays). Every change is audited like the same
change made by an admin, with `via: oidc`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from charter.auth.model import Actor, Function, Role, ScopeKind
from charter.auth.repository import actor_for, ref_of
from charter.auth.tables import OidcIdentityRow, PrincipalRow, RoleBindingRow, TeamMemberRow, TeamRow
from charter.core.clock import utcnow
from charter.core.errors import ErrorCode, Unauthenticated
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.storage.uow import UnitOfWork

ACTOR = "system:oidc"
_ENTRY = re.compile(
    r"^(?P<role>[a-z-]+)(\((?P<fn>[a-z-]+)\))?(@(?P<kind>team|system):(?P<name>[a-z0-9][a-z0-9._-]{0,119}))?$"
)
_TEAM = re.compile(r"^team:(?P<name>[a-z0-9][a-z0-9._-]{0,119})$")
_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Identity:
    """What a verified ID token (and userinfo) says about the person signing in."""

    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    username: str | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing a group gives: a role binding, or (role is None) membership of a team."""

    role: Role | None
    function: str = ""
    scope_kind: ScopeKind = ScopeKind.GLOBAL
    scope_name: str = ""

    @property
    def key(self) -> str:
        if self.role is None:
            return f"team:{self.scope_name}"
        fn = f"({self.function})" if self.function else ""
        scope = "" if self.scope_kind is ScopeKind.GLOBAL else f"@{self.scope_kind}:{self.scope_name}"
        return f"{self.role}{fn}{scope}"

    @property
    def scope(self) -> str:
        return "global" if self.scope_kind is ScopeKind.GLOBAL else f"{self.scope_kind}:{self.scope_name}"


GroupTable = dict[str, tuple[Entry, ...]]


def parse_entry(text: str) -> Entry:
    """`senior-engineer@team:ml`, `reviewer(legal)`, `viewer`, `team:risk` → an Entry; ValueError names the fault."""
    team = _TEAM.match(text)
    if team:
        return Entry(None, scope_kind=ScopeKind.TEAM, scope_name=team["name"])
    m = _ENTRY.match(text)
    if m is None:
        raise ValueError(f"'{text}' must be ROLE, ROLE(FUNCTION), ROLE@team:NAME, ROLE@system:NAME or team:NAME")
    try:
        role = Role(m["role"])
    except ValueError:
        raise ValueError(f"'{text}': unknown role '{m['role']}'; roles are: {', '.join(Role)}") from None
    if role is Role.APP:
        raise ValueError(f"'{text}': the app role is for service accounts, not people")
    fn = m["fn"] or ""
    if role is Role.REVIEWER and fn not in set(Function):
        raise ValueError(f"'{text}': the reviewer role needs a function, one of: {', '.join(Function)}")
    if role is not Role.REVIEWER and fn:
        raise ValueError(f"'{text}': a function only applies to the reviewer role")
    kind = ScopeKind(m["kind"]) if m["kind"] else ScopeKind.GLOBAL
    return Entry(role, fn, kind, m["name"] or "")


def parse_table(table: dict[str, list[str]]) -> GroupTable:
    """The settings' group table with every entry checked (ValueError naming CHARTER_OIDC_GROUPS)."""
    out: GroupTable = {}
    for group, entries in table.items():
        try:
            out[group] = tuple(parse_entry(e) for e in entries)
        except ValueError as exc:
            raise ValueError(f"CHARTER_OIDC_GROUPS: group '{group}': {exc}") from None
    return out


def entries_for(table: GroupTable, groups: tuple[str, ...]) -> dict[str, tuple[Entry, list[str]]]:
    """Every entry the groups give, keyed by Entry.key, with the groups that give it."""
    out: dict[str, tuple[Entry, list[str]]] = {}
    for group in groups:
        for entry in table.get(group, ()):
            out.setdefault(entry.key, (entry, []))[1].append(group)
    return out


def sign_in(uow: UnitOfWork, identity: Identity, table: GroupTable) -> Actor:
    """Find, link or create the user for a verified identity and apply its groups; the caller commits (together with
    the session it starts). The returned actor may hold no grant at all: the caller refuses it, after committing the
    revocations that left it empty."""
    desired = entries_for(table, identity.groups)
    row = uow.session.scalar(
        select(OidcIdentityRow).where(
            OidcIdentityRow.issuer == identity.issuer, OidcIdentityRow.subject == identity.subject
        )
    )
    if row is not None:
        principal = uow.session.get(PrincipalRow, row.principal_id)
        if principal is None or principal.disabled:
            raise Unauthenticated("this Charter user is disabled; ask an admin", code=ErrorCode.PRINCIPAL_DISABLED)
    else:
        principal = _linked_by_email(uow, identity)
        if principal is None:
            if not desired:
                raise Unauthenticated(
                    "none of your groups at the identity provider gives a Charter role; ask an admin to map one "
                    "in CHARTER_OIDC_GROUPS",
                    code=ErrorCode.OIDC_NO_ROLE,
                )
            principal = _create_user(uow, identity)
        row = OidcIdentityRow(
            id=new_id("oidc"),
            issuer=identity.issuer,
            subject=identity.subject,
            principal_id=principal.id,
            managed=[],
            created_at=utcnow(),
            last_login_at=utcnow(),
        )
        uow.session.add(row)
        uow.session.flush()
    row.managed = _apply(uow, principal, desired, set(row.managed or []))
    row.last_login_at = utcnow()
    uow.session.flush()
    return actor_for(uow.session, principal)


def _linked_by_email(uow: UnitOfWork, identity: Identity) -> PrincipalRow | None:
    """An existing user with the same email, when the provider vouches for the address (email_verified)."""
    if not identity.email or not identity.email_verified:
        return None
    principal = uow.session.scalar(
        select(PrincipalRow).where(
            PrincipalRow.kind == "user", func.lower(PrincipalRow.email) == identity.email.lower()
        )
    )
    if principal is None:
        return None
    if principal.disabled:
        raise Unauthenticated("this Charter user is disabled; ask an admin", code=ErrorCode.PRINCIPAL_DISABLED)
    other = uow.session.scalar(
        select(OidcIdentityRow.id).where(
            OidcIdentityRow.principal_id == principal.id, OidcIdentityRow.issuer == identity.issuer
        )
    )
    if other is not None:
        raise Unauthenticated(
            f"the Charter user with email {identity.email} is linked to another account at this provider",
            code=ErrorCode.OIDC_LINKED_ELSEWHERE,
        )
    uow.record(
        AuditEvent(
            ACTOR,
            "user.link",
            ref_of(principal),
            details={"via": "oidc", "issuer": identity.issuer, "subject": identity.subject, "email": identity.email},
        )
    )
    return principal


def _create_user(uow: UnitOfWork, identity: Identity) -> PrincipalRow:
    name = _free_name(uow, identity)
    row = PrincipalRow(
        id=new_id("prn"),
        kind="user",
        name=name,
        email=identity.email[:200] if identity.email else None,
        display_name=identity.name[:200] if identity.name else None,
        password_hash=None,
        disabled=False,
        created_at=utcnow(),
    )
    uow.session.add(row)
    uow.session.flush()
    details = {"via": "oidc", "issuer": identity.issuer, "subject": identity.subject, "email": identity.email}
    uow.record(AuditEvent(ACTOR, "user.create", f"user:{name}", details=details))
    return row


def _free_name(uow: UnitOfWork, identity: Identity) -> str:
    """A user name from preferred_username (else the email's local part), made valid and unique."""
    raw = identity.username or (identity.email.split("@", 1)[0] if identity.email else "")
    base = _NAME_CHARS.sub("-", raw.lower()).strip("-._")[:56]
    if not base:
        base = "sso-" + hashlib.sha256(f"{identity.issuer} {identity.subject}".encode()).hexdigest()[:10]
    taken = set(uow.session.scalars(select(PrincipalRow.name).where(PrincipalRow.name.like(f"{base}%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _apply(
    uow: UnitOfWork, principal: PrincipalRow, desired: dict[str, tuple[Entry, list[str]]], managed: set[str]
) -> list[str]:
    """Grant what the groups give and the user lacks; revoke what the groups gave before and no longer give.
    Returns the new set of group-given keys."""
    ref = ref_of(principal)
    bindings = {
        Entry(Role(b.role), b.function, ScopeKind(b.scope_kind), b.scope_name).key: b
        for b in uow.session.scalars(select(RoleBindingRow).where(RoleBindingRow.principal_id == principal.id))
    }
    teams = {
        f"team:{name}": team_id
        for team_id, name in uow.session.execute(
            select(TeamRow.id, TeamRow.name)
            .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
            .where(TeamMemberRow.principal_id == principal.id)
        ).tuples()
    }
    kept: set[str] = set()
    for key, (entry, groups) in sorted(desired.items()):
        details: dict[str, object] = {"via": "oidc", "groups": sorted(groups)}
        if key in bindings or key in teams:
            if key in managed:
                kept.add(key)  # still given by a group; what an admin granted by hand stays the admin's
            continue
        kept.add(key)
        if entry.role is None:
            team = _team(uow, entry.scope_name)
            uow.session.add(TeamMemberRow(team_id=team.id, principal_id=principal.id))
            uow.record(AuditEvent(ACTOR, "team.join", ref, details={**details, "team": entry.scope_name}))
            continue
        if entry.scope_kind is ScopeKind.TEAM:
            _team(uow, entry.scope_name)
        uow.session.add(
            RoleBindingRow(
                id=new_id("rb"),
                principal_id=principal.id,
                role=entry.role,
                function=entry.function,
                scope_kind=entry.scope_kind,
                scope_name=entry.scope_name,
                created_at=utcnow(),
            )
        )
        uow.record(
            AuditEvent(
                ACTOR,
                "role.grant",
                ref,
                details={**details, "role": entry.role, "function": entry.function, "scope": entry.scope},
            )
        )
    for key in sorted(managed - set(desired)):
        if key in teams:
            uow.session.execute(
                delete(TeamMemberRow).where(
                    TeamMemberRow.team_id == teams[key], TeamMemberRow.principal_id == principal.id
                )
            )
            uow.record(AuditEvent(ACTOR, "team.leave", ref, details={"via": "oidc", "team": key.split(":", 1)[1]}))
        elif key in bindings:
            b = bindings[key]
            if b.role == Role.ADMIN and _last_enabled_admin(uow, principal.id):
                kept.add(key)  # as `charter role revoke` refuses: nobody could grant admin back
                continue
            uow.session.delete(b)
            scope = "global" if b.scope_kind == ScopeKind.GLOBAL else f"{b.scope_kind}:{b.scope_name}"
            uow.record(
                AuditEvent(
                    ACTOR,
                    "role.revoke",
                    ref,
                    details={"via": "oidc", "role": b.role, "function": b.function, "scope": scope},
                )
            )
    uow.session.flush()
    return sorted(kept)


def _team(uow: UnitOfWork, name: str) -> TeamRow:
    """The team a group names, created (and audited) on first use: the settings table is the admin's word."""
    row = uow.session.scalar(select(TeamRow).where(TeamRow.name == name))
    if row is None:
        row = TeamRow(id=new_id("team"), name=name, created_at=utcnow())
        uow.session.add(row)
        uow.session.flush()
        uow.record(AuditEvent(ACTOR, "team.create", f"team:{name}", details={"via": "oidc"}))
    return row


def _last_enabled_admin(uow: UnitOfWork, principal_id: str) -> bool:
    uow.session.scalars(select(RoleBindingRow.id).where(RoleBindingRow.role == Role.ADMIN).with_for_update()).all()
    others = uow.session.scalar(
        select(func.count(func.distinct(RoleBindingRow.principal_id)))
        .join(PrincipalRow, PrincipalRow.id == RoleBindingRow.principal_id)
        .where(
            RoleBindingRow.role == Role.ADMIN,
            PrincipalRow.disabled.is_(False),
            RoleBindingRow.principal_id != principal_id,
        )
    )
    return not others
