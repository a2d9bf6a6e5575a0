"""The dashboard's deployment page: per-tool counts of an MCP deployment (calls, refusals, approvals), from the
audit log, and the approvals waiting on it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.deployments import service
from charter.deployments.schemas import DeploymentCreate
from charter.guard import Guard, LicenseDenied
from charter.guard.local import LocalDecider
from tests.integration.web.conftest import Client, page_csrf, sign_in
from tests.support.gateway_fake.world import licensed

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_tool_counts_and_waiting_approvals(container: Container, web: Client, user: Callable[..., str]) -> None:
    world = licensed(
        container,
        tools=("crm:search", "crm:refund"),
        tool_conditions=["crm:refund => args.amount <= 500"],
        approvals=["crm:refund => role:reviewer"],
    )
    body = {"name": "crm", "kind": "mcp", "model": world.model, "upstream": "http://127.0.0.1:9/mcp"}
    with container.uow() as uow:
        service.add(
            uow, SYSTEM_ACTOR, DeploymentCreate.model_validate(body), allow=container.settings.upstream_allowlist
        )
    guard = Guard("crm", purpose="credit-scoring", decider=LocalDecider(container, world.app_key))
    guard.tool_call("crm", "search", {"q": "a"})
    guard.tool_call("crm", "search", {"q": "b"})
    for tool, args in (("refund", {"amount": 900}), ("refund", {"amount": 5}), ("delete", {})):
        with pytest.raises(LicenseDenied):
            guard.tool_call("crm", tool, args)
    client = sign_in(web(), user("ada", "admin"))
    page = client.get("/deployments/crm")
    assert page.status_code == 200, page.text
    table = page.text[page.text.index('id="tool-counts"') :]
    assert "<td><code>search</code></td><td>2</td><td>0</td><td>0</td><td>0</td>" in table
    assert "<td><code>refund</code></td><td>0</td><td>1</td><td>1</td><td>0</td>" in table
    assert "<td><code>delete</code></td><td>0</td><td>1</td>" in table
    assert "Waiting for approval" in page.text
    assert '{"amount": 5}' in page.text  # the exact arguments the approver decides on


def test_the_inbox_lists_tool_calls_waiting_for_approval_and_decides_them(
    container: Container, web: Client, user: Callable[..., str]
) -> None:
    """The approver named by the license sees the exact tool, arguments and agent in the inbox and approves or
    denies there; the approval passes the agent's retry once."""
    world = licensed(container, tools=("crm:refund",), approvals=["crm:refund => role:reviewer"])
    body = {"name": "crm", "kind": "mcp", "model": world.model, "upstream": "http://127.0.0.1:9/mcp"}
    with container.uow() as uow:
        service.add(
            uow, SYSTEM_ACTOR, DeploymentCreate.model_validate(body), allow=container.settings.upstream_allowlist
        )
    guard = Guard("crm", purpose="credit-scoring", decider=LocalDecider(container, world.app_key))
    ids = []
    for amount in (70, 80):
        with pytest.raises(LicenseDenied) as held:
            guard.tool_call("crm", "refund", {"amount": amount})
        assert held.value.decision.approval_id is not None
        ids.append(held.value.decision.approval_id)
    viewer = sign_in(web(), user("vic", "viewer"))
    assert "Tool calls waiting for your approval" not in viewer.get("/inbox").text
    client = sign_in(web(), user("rae", ("reviewer", "legal")))
    page = client.get("/inbox").text
    section = page[page.index('id="tool-approvals"') :]
    assert ids[0] in section and ids[1] in section and '{"amount": 70}' in section and world.app_key not in section
    assert "crm:refund" in section and "app:loan-portal" in section
    csrf = page_csrf(client, "/inbox")
    bad = client.post(f"/inbox/approvals/{ids[0]}", data={"csrf": csrf, "decision": "maybe"})
    assert bad.status_code == 422
    r = client.post(f"/inbox/approvals/{ids[0]}", data={"csrf": csrf, "decision": "approve", "comment": "ok"})
    assert r.status_code == 303 and r.headers["location"].startswith("/inbox?done=approve")
    assert "is now <strong>approved</strong>" in client.get(r.headers["location"]).text
    r = client.post(f"/inbox/approvals/{ids[1]}", data={"csrf": csrf, "decision": "deny"})
    assert r.status_code == 303
    after = client.get("/inbox").text
    assert ids[0] not in after.split('role="status"')[-1] and 'id="tool-approvals"' not in after
    assert guard.tool_call("crm", "refund", {"amount": 70}, approval=ids[0]).allowed
    with pytest.raises(LicenseDenied) as denied:
        guard.tool_call("crm", "refund", {"amount": 80}, approval=ids[1])
    assert "was denied by user:rae" in denied.value.decision.detail
