"""Hostile MCP messages at `/mcp/{deployment}`, sent raw (the SDK would not send them): each is refused with a JSON-RPC
error naming Charter's reason, audited, and never reaches the MCP server.

Header/body mismatch (2026-07-28 `Mcp-Method`, `Mcp-Name`, base64 form included), a batch hiding a second call,
repeated keys that a server could read the other way, oversized arguments, look-alike tool names, and a legacy
session id of another agent (or one Charter never issued).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.db import Templates
from tests.support.mcp_world import MAX_ANSWER, World, world

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture(scope="module")
def w(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(templates, Path(tmp_path_factory.mktemp("mcp-hostile"))) as built:
        yield built


def _call(name: str, args: dict[str, Any] | None = None, msg_id: int = 1) -> dict[str, Any]:
    params = {"name": name, "arguments": args or {"customer": "ada"}, "_meta": META}
    return {"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": params}


def _post(
    w: World, body: bytes | dict[str, Any] | list[Any], headers: dict[str, str] | None = None, key: str | None = None,
    deployment: str = "crm-tools",
) -> httpx.Response:  # fmt: skip
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {
        **w.headers(key),
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        **(headers or {}),
    }
    return httpx.post(w.mcp_url(deployment), content=raw, headers=h, timeout=10)


def _refused(resp: httpx.Response, status: int, reason: str, code: int | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    doc = resp.json()
    assert doc["error"]["data"]["reason"] == reason, doc
    if code is not None:
        assert doc["error"]["code"] == code, doc
    assert resp.headers["charter-decision-id"] == doc["error"]["data"]["decision_id"]
    return dict(doc["error"])


HEADER_CASES = {
    "method_says_list": ({"Mcp-Method": "tools/list", "Mcp-Name": "delete_customer"}, _call("delete_customer")),
    "name_says_search": ({"Mcp-Method": "tools/call", "Mcp-Name": "search_customers"}, _call("delete_customer")),
    "name_missing": ({"Mcp-Method": "tools/call"}, _call("delete_customer")),
    "method_missing": ({"Mcp-Name": "delete_customer"}, _call("delete_customer")),
    "base64_name_says_search": (
        {"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?" + base64.b64encode(b"search_customers").decode() + "?="},
        _call("delete_customer"),
    ),
    "version_differs": (
        {"Mcp-Method": "tools/call", "Mcp-Name": "delete_customer", "MCP-Protocol-Version": "2025-11-25"},
        _call("delete_customer"),
    ),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_header_body_mismatch_is_400_header_mismatch(w: World, case: str) -> None:
    headers, body = HEADER_CASES[case]
    before = w.ran()
    _refused(_post(w, body, headers, deployment="crm-admin"), 400, "header_mismatch", -32020)
    assert w.ran() == before


def test_batch_hiding_a_second_call_is_refused(w: World) -> None:
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": META}}
    before = w.ran()
    resp = _post(w, [listing, _call("delete_customer", msg_id=2)], {"Mcp-Method": "tools/list"})
    _refused(resp, 400, "batch_not_allowed", -32600)
    assert w.ran() == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_customers","name":"delete_customer",'
        b'"arguments":{"customer":"a"}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_customer"}}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund",'
        b'"arguments":{"customer":"a","amount":1,"amount":9000}}}',
    ],
    ids=["name_twice", "method_twice", "argument_twice"],
)
def test_repeated_deciding_keys_are_refused(w: World, raw: bytes) -> None:
    before = w.ran()
    _refused(_post(w, raw, {"MCP-Protocol-Version": "2025-11-25"}), 400, "ambiguous_request", -32600)
    assert w.ran() == before


def test_oversized_arguments_are_refused(w: World) -> None:
    body = _call("search_customers", {"query": "x" * 70_000})
    resp = _post(w, body, {"Mcp-Method": "tools/call", "Mcp-Name": "search_customers"})
    err = _refused(resp, 400, "arguments_too_large")
    assert "65536" in err["message"]


def test_an_mcp_answer_over_the_limit_is_withheld(w: World) -> None:
    """The server ran the tool, but its answer is larger than the gateway reads: a JSON-RPC refusal, audited."""
    body = _call("search_customers", {"query": "x" * (MAX_ANSWER + 1000)})
    resp = _post(w, body, {"Mcp-Method": "tools/call", "Mcp-Name": "search_customers"})
    err = _refused(resp, 502, "upstream_answer_too_large")
    assert "CHARTER_MAX_ANSWER_BYTES" in err["message"] and "xxxx" not in resp.text


@pytest.mark.parametrize(
    "name", ["search_\u0441ustomers", "search_customers\u200b", "ｓearch_customers", "search customers"]
)
def test_look_alike_tool_names_are_refused(w: World, name: str) -> None:
    encoded = "=?base64?" + base64.b64encode(name.encode()).decode() + "?="
    resp = _post(w, _call(name, {"query": "x"}), {"Mcp-Method": "tools/call", "Mcp-Name": encoded})
    err = _refused(resp, 400, "invalid_tool_name")
    assert "look-alike" in err["message"]


def _initialize(w: World, key: str | None = None) -> str:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    resp = _post(w, body, {"MCP-Protocol-Version": "2025-11-25"}, key=key)
    assert resp.status_code == 200, resp.text
    return resp.headers["mcp-session-id"]


def test_a_legacy_session_is_bound_to_the_agent_that_created_it(w: World) -> None:
    sid = _initialize(w)
    assert sid.startswith("charter-")  # Charter's id, mapped to the server's, which the agent never sees
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    legacy = {"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": sid}
    mine = _post(w, listing, legacy)
    assert mine.status_code == 200, mine.text
    assert mine.headers["mcp-session-id"] == sid
    _refused(_post(w, listing, legacy, key=w.other_key), 403, "session_not_yours")
    unknown = {**legacy, "Mcp-Session-Id": "0123456789abcdef0123456789abcdef"}
    _refused(_post(w, listing, unknown), 404, "unknown_session")
    gone = httpx.delete(w.mcp_url("crm-tools"), headers={**w.headers(w.other_key), **legacy}, timeout=10)
    assert gone.status_code == 403
    ended = httpx.delete(w.mcp_url("crm-tools"), headers={**w.headers(), **legacy}, timeout=10)
    assert ended.status_code == 200, ended.text
    _refused(_post(w, listing, legacy), 404, "unknown_session")


def test_no_key_and_unknown_deployment_are_refused_before_anything(w: World) -> None:
    resp = httpx.post(w.mcp_url("crm-tools"), json=_call("search_customers"), timeout=10)
    assert resp.status_code == 401
    assert _post(w, _call("search_customers"), deployment="nope").status_code == 404


@pytest.mark.parametrize(
    ("method", "key", "name"), [("prompts/get", "name", "greeting"), ("resources/read", "uri", "crm://policy")]
)
def test_prompts_and_resources_are_checked_by_name(w: World, method: str, key: str, name: str) -> None:
    params: dict[str, Any] = {key: name, "_meta": META}
    if method == "prompts/get":
        params["arguments"] = {"name": "Ada"}
    body = {"jsonrpc": "2.0", "id": 5, "method": method, "params": params}
    headers = {"Mcp-Method": method, "Mcp-Name": name}
    err = _refused(_post(w, body, headers), 403, "tool_not_in_scope")  # crm-tools lists two tools, nothing else
    assert f"crm-tools:{name} is not in license" in err["message"]
    allowed = _post(w, body, headers, deployment="crm-admin")  # crm-admin:* covers them
    assert allowed.status_code == 200 and "result" in allowed.json(), allowed.text
