"""Who hears of which event: routes (event → roles) and the people holding those roles over the event's system.

A person is emailed when they are an enabled user with an email address and hold a routed role in a scope that covers
the system: global, the system's team, or the system itself. A sign-off request goes only to reviewers of the
functions it needs. Chat channels get every routed event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select

from charter.auth.model import Role
from charter.auth.tables import PrincipalRow, RoleBindingRow
from charter.catalog.tables import SystemRow
from charter.storage.uow import UnitOfWork

_OWNERS = (Role.ADMIN, Role.SENIOR_ENGINEER, Role.ML_ENGINEER)

# The built-in routes: what each role needs to act on. CHARTER_NOTIFY_ROUTES replaces entries one event at a time.
DEFAULT_ROUTES: dict[str, tuple[str, ...]] = {
    "license.signoff_requested": (Role.REVIEWER,),
    "license.reinstatement_signoff": (Role.REVIEWER,),
    "license.activate": _OWNERS,
    "license.suspend": (*_OWNERS, Role.AUDITOR),
    "license.revoke": (*_OWNERS, Role.AUDITOR),
    "license.reinstate": _OWNERS,
    "license.reject": _OWNERS,
    "license.expire": _OWNERS,
    "license.expiring": _OWNERS,
    "reaudit.scheduled": (Role.SENIOR_ENGINEER, Role.ML_ENGINEER, Role.AUDITOR),
    "reaudit.overdue": (*_OWNERS, Role.AUDITOR),
    "incident.*": (*_OWNERS, Role.AUDITOR),
}
_EVENT = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?$")
_ROLES = {r.value for r in Role if r is not Role.APP}


class RouteError(ValueError):
    """CHARTER_NOTIFY_ROUTES does not parse; the message names the entry and the fix."""


def parse_routes(text: str | None) -> dict[str, tuple[str, ...]]:
    """The built-in routes with CHARTER_NOTIFY_ROUTES (`EVENT=ROLE+ROLE;…`, empty roles: nobody) applied."""
    routes = dict(DEFAULT_ROUTES)
    for entry in (text or "").split(";"):
        if not entry.strip():
            continue
        event, sep, roles = (part.strip() for part in entry.partition("="))
        if not sep or not _EVENT.match(event):
            raise RouteError(
                f"CHARTER_NOTIFY_ROUTES: '{entry.strip()[:80]}' must be EVENT=ROLE+ROLE (EVENT like license.suspend "
                "or incident.*)"
            )
        names = tuple(r.strip() for r in roles.split("+") if r.strip())
        unknown = sorted(set(names) - _ROLES)
        if unknown:
            raise RouteError(
                f"CHARTER_NOTIFY_ROUTES: {event}: unknown role {', '.join(unknown)} "
                f"(roles: {', '.join(sorted(_ROLES))})"
            )
        routes[event] = names
    return routes


def roles_for(routes: Mapping[str, tuple[str, ...]], event: str) -> tuple[str, ...] | None:
    """The roles routed for `event` (an exact entry first, then the longest `prefix.*`); None: not routed."""
    if event in routes:
        return routes[event]
    best: tuple[str, ...] | None = None
    best_len = -1
    for pattern, roles in routes.items():
        if pattern.endswith(".*") and event.startswith(pattern[:-1]) and len(pattern) > best_len:
            best, best_len = roles, len(pattern)
    return best


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str


def recipients(uow: UnitOfWork, roles: tuple[str, ...], payload: Mapping[str, Any]) -> list[Person]:
    """Enabled users with an email who hold one of `roles` over the payload's system (sorted by address, unique)."""
    if not roles:
        return []
    system = payload.get("system")
    team = uow.session.scalar(select(SystemRow.team).where(SystemRow.name == system)) if system else None
    scopes = [RoleBindingRow.scope_kind == "global"]
    if team:
        scopes.append(and_(RoleBindingRow.scope_kind == "team", RoleBindingRow.scope_name == team))
    if system:
        scopes.append(and_(RoleBindingRow.scope_kind == "system", RoleBindingRow.scope_name == system))
    grant = and_(RoleBindingRow.role.in_([r for r in roles if r != Role.REVIEWER]), or_(*scopes))
    if Role.REVIEWER in roles:
        functions = _functions(payload)
        reviewer = and_(RoleBindingRow.role == Role.REVIEWER, or_(*scopes))
        if functions is not None:
            reviewer = and_(reviewer, RoleBindingRow.function.in_(functions))
        grant = or_(grant, reviewer)
    stmt = (
        select(PrincipalRow.name, PrincipalRow.email)
        .join(RoleBindingRow, RoleBindingRow.principal_id == PrincipalRow.id)
        .where(PrincipalRow.kind == "user", PrincipalRow.disabled.is_(False), PrincipalRow.email.is_not(None), grant)
        .distinct()
    )
    found = {email.strip().lower(): Person(name, email.strip()) for name, email in uow.session.execute(stmt) if email}
    return [found[k] for k in sorted(found)]


def _functions(payload: Mapping[str, Any]) -> list[str] | None:
    """The reviewer functions a sign-off event asks for; None when it names none (then every reviewer)."""
    required = payload.get("required_signoffs")
    if isinstance(required, list) and all(isinstance(f, str) for f in required):
        return list(required)
    return None
