"""Runtime approvals in the database: one pending call, decided by the approver the license names, spent once on
exactly that call, expiring on the injected clock; every step an audit entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from charter.auth.model import SYSTEM_ACTOR, Actor, Grant, Role
from charter.bootstrap import Container
from charter.core.clock import pinned
from charter.core.errors import Conflict, Forbidden
from charter.deployments import approvals, service
from charter.deployments.schemas import DeploymentCreate
from charter.guard import Guard, LicenseDenied
from charter.guard.local import LocalDecider
from tests.support.gateway_fake.world import licensed

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
CALL: dict[str, Any] = {
    "license_id": "lic_1",
    "deployment": "pay",
    "tool": "transfer",
    "args_sha256": "a" * 64,
    "agent": "app:bot",
}
REVIEWER = Actor(id="u1", kind="user", name="tess", grants=(Grant(Role.REVIEWER, function="security"),))
VIEWER = Actor(id="u2", kind="user", name="vic", grants=(Grant(Role.VIEWER),))


def _ask(c: Container, approver: str = "role:reviewer") -> str:
    with c.uow() as uow:
        return approvals.ask(uow, args={"to": "x", "amount": 5}, approver=approver, **CALL)


def _use(c: Container, approval_id: str, **changed: str) -> str | None:
    with c.uow() as uow:
        return approvals.use(uow, approval_id, **{**CALL, **changed})


def _decide(c: Container, actor: Actor, approval_id: str, approve: bool = True) -> str:
    with c.uow() as uow:
        return approvals.decide(uow, actor, approval_id, approve=approve).state


def test_an_approval_passes_one_identical_call(container: Container) -> None:
    first = _ask(container)
    assert _use(container, first) == "is still waiting for its approver"
    with pytest.raises(Forbidden):
        _decide(container, VIEWER, first)  # no tool.approve
    assert _decide(container, REVIEWER, first) == "approved"
    with pytest.raises(Conflict):
        _decide(container, REVIEWER, first)
    assert "other arguments" in str(_use(container, first, args_sha256="b" * 64))
    assert "another agent" in str(_use(container, first, agent="app:other"))
    assert "not this tool" in str(_use(container, first, tool="refund"))
    assert _use(container, first) is None
    assert "already used" in str(_use(container, first))
    assert _use(container, "apr_nope") == "no such approval"
    with container.uow(write=False) as uow:
        listed = approvals.list_all(uow, REVIEWER, "used")
    assert [a.id for a in listed] == [first] and listed[0].args == {"to": "x", "amount": 5}


def test_approvals_expire_and_denials_stick(container: Container) -> None:
    with pinned() as clock:
        late = _ask(container)
        _decide(container, REVIEWER, late)
        clock.advance(approvals.DEFAULT_TTL + timedelta(seconds=1))
        assert _use(container, late) == "has expired"
        denied = _ask(container)
        assert _decide(container, REVIEWER, denied, approve=False) == "denied"
        assert _use(container, denied) == "was denied by user:tess"


def test_only_the_named_approver_decides(container: Container) -> None:
    legal = _ask(container, "role:legal")
    with pytest.raises(Forbidden):
        _decide(container, REVIEWER, legal)  # a reviewer, but signs as security, not legal
    assert _decide(container, SYSTEM_ACTOR, legal) == "approved"  # admins may


def test_guard_tool_call_checks_scope_conditions_and_approvals(container: Container) -> None:
    """`guard.tool_call` for in-process agents: the gateway's MCP checks, through the decisions service."""
    world = licensed(
        container,
        tools=("crm:search", "crm:refund", "pay:*"),
        tool_conditions=["crm:refund => args.amount <= 500"],
        approvals=["pay:transfer => role:reviewer"],
    )
    for name in ("crm", "pay"):
        body = {"name": name, "kind": "mcp", "model": world.model, "upstream": "http://127.0.0.1:9/mcp"}
        with container.uow() as uow:
            service.add(
                uow, SYSTEM_ACTOR, DeploymentCreate.model_validate(body), allow=container.settings.upstream_allowlist
            )
    guard = Guard("crm", purpose="credit-scoring", decider=LocalDecider(container, world.app_key))
    assert guard.tool_call("crm", "search", {"q": "ada"}).allowed
    assert guard.tool_call("crm", "refund", {"amount": 10}).allowed
    for tool, args, code in [
        ("refund", {"amount": 900}, "tool_condition_failed"),
        ("delete", {}, "tool_not_in_scope"),
        ("se\u0430rch", {}, "tool_not_in_scope"),
    ]:
        with pytest.raises(LicenseDenied) as err:
            guard.tool_call("crm", tool, args)
        assert err.value.code == code
    with pytest.raises(LicenseDenied) as wait:
        guard.tool_call("pay", "transfer", {"to": "x"})
    approval = wait.value.decision.approval_id
    assert wait.value.code == "approval_required" and approval is not None
    _decide(container, REVIEWER, approval)
    assert guard.tool_call("pay", "transfer", {"to": "x"}, approval=approval).allowed
    with pytest.raises(LicenseDenied) as again:
        guard.tool_call("pay", "transfer", {"to": "x"}, approval=approval)
    assert again.value.code == "approval_refused"
