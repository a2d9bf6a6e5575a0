"""Roles, permissions, the authenticated actor and the resource an action touches."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    PRINCIPAL_READ = "principal.read"
    PRINCIPAL_MANAGE = "principal.manage"
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    CATALOG_WRITE_PRODUCTION = "catalog.write_production"
    POLICY_READ = "policy.read"
    POLICY_WRITE = "policy.write"
    EVALUATION_RUN = "evaluation.run"
    EVALUATION_READ = "evaluation.read"
    LICENSE_READ = "license.read"
    LICENSE_REQUEST = "license.request"
    LICENSE_SIGNOFF = "license.signoff"
    LICENSE_MANAGE = "license.manage"
    DEPLOYMENT_READ = "deployment.read"
    DEPLOYMENT_WRITE = "deployment.write"
    MONITOR_READ = "monitor.read"
    MONITOR_WRITE = "monitor.write"
    AUDIT_READ = "audit.read"
    REPORT_READ = "report.read"
    INFERENCE_CALL = "inference.call"
    METRICS_READ = "metrics.read"  # the gateway's Prometheus /metrics
    TOOL_APPROVE = "tool.approve"  # see and decide agents' tool calls that wait for a human (charter approval)
    CONTROL_ATTEST = "control.attest"  # attest a control no rule can check (Art. 4, 17, 49)


class Role(StrEnum):
    ADMIN = "admin"
    SENIOR_ENGINEER = "senior-engineer"
    ML_ENGINEER = "ml-engineer"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    VIEWER = "viewer"
    APP = "app"


class Function(StrEnum):
    """Reviewer functions that sign off licenses."""

    ML_LEAD = "ml-lead"
    SECURITY = "security"
    LEGAL = "legal"
    PRIVACY = "privacy"
    ETHICS = "ethics"


class ScopeKind(StrEnum):
    GLOBAL = "global"
    TEAM = "team"
    SYSTEM = "system"


P = Permission
_READ = frozenset(
    {
        P.CATALOG_READ,
        P.POLICY_READ,
        P.EVALUATION_READ,
        P.LICENSE_READ,
        P.DEPLOYMENT_READ,
        P.MONITOR_READ,
        P.REPORT_READ,
    }
)
_ML = _READ | {P.CATALOG_WRITE, P.EVALUATION_RUN, P.LICENSE_REQUEST, P.MONITOR_WRITE, P.CONTROL_ATTEST}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission) - {P.LICENSE_SIGNOFF, P.INFERENCE_CALL},
    Role.SENIOR_ENGINEER: _ML
    | {P.CATALOG_WRITE_PRODUCTION, P.DEPLOYMENT_WRITE, P.LICENSE_MANAGE, P.POLICY_WRITE, P.AUDIT_READ, P.TOOL_APPROVE},
    Role.ML_ENGINEER: _ML,
    Role.REVIEWER: _READ | {P.LICENSE_SIGNOFF, P.AUDIT_READ, P.TOOL_APPROVE, P.CONTROL_ATTEST},
    Role.AUDITOR: _READ | {P.AUDIT_READ, P.PRINCIPAL_READ, P.METRICS_READ},
    Role.VIEWER: _READ,
    Role.APP: frozenset({P.INFERENCE_CALL, P.LICENSE_READ, P.DEPLOYMENT_READ}),
}


@dataclass(frozen=True, slots=True)
class Grant:
    """One role binding as the authorizer sees it."""

    role: Role
    scope_kind: ScopeKind = ScopeKind.GLOBAL
    scope_name: str = ""
    function: str = ""

    def covers(self, resource: Resource | None) -> bool:
        if self.scope_kind is ScopeKind.GLOBAL:
            return True
        if resource is None:
            return False
        if self.scope_kind is ScopeKind.TEAM:
            return resource.team == self.scope_name
        return resource.system == self.scope_name

    def describe(self) -> str:
        fn = f"({self.function})" if self.function else ""
        scope = "" if self.scope_kind is ScopeKind.GLOBAL else f" on {self.scope_kind}:{self.scope_name}"
        return f"{self.role}{fn}{scope}"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an authenticated principal with its grants and teams."""

    id: str
    kind: str  # "user" | "app" | "system"
    name: str
    grants: tuple[Grant, ...] = ()
    teams: tuple[str, ...] = ()
    key_id: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.name}"

    def has_role(self, role: Role) -> bool:
        return any(g.role is role for g in self.grants)


SYSTEM_ACTOR = Actor(id="system", kind="system", name="charter", grants=(Grant(Role.ADMIN),))


@dataclass(frozen=True, slots=True)
class Resource:
    """What an action touches, with the scope attributes role bindings are matched against."""

    kind: str
    name: str = ""
    team: str | None = None
    system: str | None = None
    production: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


PRINCIPALS = Resource(kind="principals")  # users, teams, apps, their keys and role bindings, as one resource
