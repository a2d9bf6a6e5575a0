"""MCP through Charter, for real: an MCP server from the official `mcp` SDK (three tools) on loopback, `charter serve`
in front of it, the official SDK `Client` as the agent, on the 2026-07-28 revision and on a legacy (session)
revision.

The listing is cut to the license's tools; an allowed call passes; an out-of-scope call and one failing its argument
condition are refused with Charter's reason; an approval passes exactly one identical call (reuse, other arguments
and a denial are refused); a suspension refuses the next call within a second; every tools/call is an audit entry
with license, agent, server, tool and digests, and the log verifies.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from charter import bootstrap
from charter.audit.export import verify_database
from tests.conftest import bearer
from tests.support.db import Templates, audit_docs
from tests.support.mcp_world import World, agent, world
from tests.support.server import cli

pytestmark = pytest.mark.e2e
MODES = ["2026-07-28", "legacy"]


@pytest.fixture(scope="module")
def w(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(templates, Path(tmp_path_factory.mktemp("mcp"))) as built:
        yield built


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _refused(w: World, deployment: str, mode: str, tool: str, args: dict[str, Any], **kw: Any) -> MCPError:
    async with agent(w.mcp_url(deployment), w.headers(), mode) as client:
        with pytest.raises(MCPError) as err:
            await client.call_tool(tool, args, **kw)
    return err.value


def _calls(w: World) -> list[dict[str, Any]]:
    return [
        d for d in audit_docs(w.settings, "inference.%") if d["details"].get("mcp", {}).get("method") == "tools/call"
    ]


@pytest.mark.parametrize("mode", MODES)
def test_listing_is_cut_and_calls_are_decided_by_the_license(w: World, mode: str) -> None:
    async def go() -> tuple[list[str], str, str]:
        async with agent(w.mcp_url("crm-tools"), w.headers(), mode) as client:
            listed = sorted(t.name for t in (await client.list_tools()).tools)
            found = await client.call_tool("search_customers", {"query": "Ada"})
            refund = await client.call_tool("refund", {"customer": "ada", "amount": 120})
            return listed, found.content[0].text, refund.content[0].text  # type: ignore[union-attr]

    listed, found, refunded = _run(go())
    assert listed == ["refund", "search_customers"]  # delete_customer is not in the license on crm-tools
    assert found == "found 1 customer matching Ada" and refunded == "refunded 120.00 to ada"

    out = _run(_refused(w, "crm-tools", mode, "delete_customer", {"customer": "ada"}))
    assert out.error.data["reason"] == "tool_not_in_scope" and out.error.data["license_id"] == w.license_id
    assert "crm-tools:delete_customer is not in license" in out.error.message
    over = _run(_refused(w, "crm-tools", mode, "refund", {"customer": "ada", "amount": 900}))
    assert over.error.data["reason"] == "tool_condition_failed"
    assert "args.amount <= 500" in over.error.message and "false" in over.error.message

    entries = _calls(w)
    tools = {(e["details"]["mcp"]["tool"], e["action"]) for e in entries}
    assert {("search_customers", "inference.allow"), ("delete_customer", "inference.deny")} <= tools
    allowed = next(e for e in entries if e["details"]["mcp"]["tool"] == "refund" and e["action"] == "inference.allow")
    info = allowed["details"]["mcp"]
    assert allowed["actor"] == "app:support-bot" and allowed["details"]["license_id"] == w.license_id
    assert info["server"] == "crm-tools" and len(info["args_sha256"]) == 64 and len(info["result_sha256"]) == 64
    assert allowed["details"]["latency_ms"] > 0


def test_approval_passes_exactly_one_identical_call(w: World) -> None:
    mode = "2026-07-28"
    args = {"customer": "ada"}
    first = _run(_refused(w, "crm-admin", mode, "delete_customer", args))
    assert first.error.data["reason"] == "approval_required"
    approval = first.error.data["approval_id"]
    assert approval.startswith("apr_") and "role:reviewer" in first.error.message

    reviewer = {**w.env, "CHARTER_API_KEY": w.reviewer_key}
    listed = json.loads(cli(reviewer, "approval", "list", "--json").stdout)["items"]  # the CLI, once
    mine = next(a for a in listed if a["id"] == approval)
    assert (mine["tool"], mine["args"], mine["agent"]) == ("delete_customer", args, "app:support-bot")
    # An agent's own key cannot approve (no tool.approve), the reviewer can.
    own = httpx.post(f"{w.url}/api/v1/approvals/{approval}/approve", json={}, headers=bearer(w.agent_key))
    assert own.status_code == 403, own.text
    r = cli(reviewer, "approval", "approve", approval, "--comment", "customer asked", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["state"] == "approved"

    meta = {"charter.dev/approval": approval}
    changed = _run(_refused(w, "crm-admin", mode, "delete_customer", {"customer": "bob"}, meta=meta))
    assert changed.error.data["reason"] == "approval_refused" and "other arguments" in changed.error.message

    async def retry() -> str:
        async with agent(w.mcp_url("crm-admin"), w.headers(), mode) as client:
            # RequestParamsMeta is a TypedDict with extra_items (PEP 728), which mypy cannot check yet
            done = await client.call_tool("delete_customer", args, meta=meta)  # type: ignore[arg-type]
            return done.content[0].text  # type: ignore[union-attr]

    assert _run(retry()) == "deleted ada"
    again = _run(_refused(w, "crm-admin", mode, "delete_customer", args, meta=meta))
    assert again.error.data["reason"] == "approval_refused" and "already used" in again.error.message

    second = _run(_refused(w, "crm-admin", "legacy", "delete_customer", args)).error.data["approval_id"]
    no = httpx.post(f"{w.url}/api/v1/approvals/{second}/deny", json={"reason": "no"}, headers=bearer(w.reviewer_key))
    assert no.status_code == 200 and no.json()["state"] == "denied", no.text
    denied = _run(_refused(w, "crm-admin", "legacy", "delete_customer", args, meta={"charter.dev/approval": second}))
    assert "was denied by user:tess" in denied.error.message

    actions = [d["action"] for d in audit_docs(w.settings, "approval.%") if d["resource"] == f"approval:{approval}"]
    assert actions == ["approval.request", "approval.approve", "approval.use", "approval.use", "approval.use"]


def test_suspension_refuses_the_next_call_within_a_second_and_the_log_verifies(w: World) -> None:
    async def call() -> str | None:
        async with agent(w.mcp_url("crm-watch"), w.headers(w.other_key), "2026-07-28") as client:
            try:
                await client.call_tool("search_customers", {"query": "x"})
            except MCPError as exc:
                return str(exc.error.data["reason"])
        return None

    assert _run(call()) is None
    url = f"{w.url}/api/v1/licenses/{w.other_license_id}/suspend"
    r = httpx.post(url, json={"reason": "agent misbehaved"}, headers=bearer(w.admin_key))
    assert r.status_code == 200, r.text
    suspended = time.monotonic()
    while (reason := _run(call())) is None:
        assert time.monotonic() - suspended < 1.0
    assert reason == "license_suspended"
    c = bootstrap.build(w.settings)
    try:
        report = verify_database(c.engine, public_raw=c.keys.audit.public_raw)
    finally:
        c.close()
    assert report.ok, report.problems
