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
from tests.integration.web.conftest import Client, sign_in
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
