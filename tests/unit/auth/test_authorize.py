from __future__ import annotations

import pytest

from charter.auth.authorize import allowed, authorize
from charter.auth.model import Actor, Grant, Permission, Resource, Role, ScopeKind
from charter.core.errors import Forbidden


def actor(*grants: Grant) -> Actor:
    return Actor(id="p", kind="user", name="p", grants=grants)


def test_scoped_grants_only_cover_their_scope() -> None:
    a = actor(Grant(Role.ML_ENGINEER, ScopeKind.TEAM, "risk"))
    assert allowed(a, Permission.CATALOG_WRITE, Resource("system", "s", team="risk"))
    assert not allowed(a, Permission.CATALOG_WRITE, Resource("system", "s", team="other"))
    b = actor(Grant(Role.ML_ENGINEER, ScopeKind.SYSTEM, "credit"))
    assert allowed(b, Permission.CATALOG_WRITE, Resource("system", "credit", system="credit"))
    assert not allowed(b, Permission.CATALOG_WRITE, Resource("system", "fraud", system="fraud"))


def test_production_changes_need_senior_engineer() -> None:
    prod = Resource("system", "credit", system="credit", production=True)
    with pytest.raises(Forbidden) as exc:
        authorize(actor(Grant(Role.ML_ENGINEER)), Permission.CATALOG_WRITE, prod)
    assert exc.value.code == "production_change_requires_senior"
    authorize(actor(Grant(Role.SENIOR_ENGINEER)), Permission.CATALOG_WRITE, prod)
    authorize(actor(Grant(Role.ADMIN)), Permission.CATALOG_WRITE, prod)


def test_signoff_needs_the_function() -> None:
    legal = actor(Grant(Role.REVIEWER, function="legal"))
    authorize(legal, Permission.LICENSE_SIGNOFF, Resource("license", "l"), function="legal")
    with pytest.raises(Forbidden):
        authorize(legal, Permission.LICENSE_SIGNOFF, Resource("license", "l"), function="security")
    with pytest.raises(Forbidden):
        authorize(actor(Grant(Role.ADMIN)), Permission.LICENSE_SIGNOFF, Resource("license", "l"), function="legal")


def test_auditor_reads_everything_changes_nothing() -> None:
    a = actor(Grant(Role.AUDITOR))
    assert allowed(a, Permission.AUDIT_READ)
    assert not any(
        allowed(a, p) for p in Permission if not p.value.endswith(".read") and p is not Permission.REPORT_READ
    )
