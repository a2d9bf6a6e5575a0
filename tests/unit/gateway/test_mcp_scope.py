"""MCP messages as the gateway reads them, and one tool call against a license: scope, CEL conditions, approvals,
names and argument bounds; the license rules as requested."""

from __future__ import annotations

import base64

import pytest

from charter.core.errors import InvalidInput
from charter.deployments.index import grant_from
from charter.deployments.model import Grant, Reason, ToolRule
from charter.deployments.toolscope import BadCall, canonical_args, check, check_name, in_scope
from charter.gateway import mcp_wire as wire
from charter.licenses.toolrules import parse, render

GRANT = Grant(
    license_id="lic_1",
    digest="sha256:aa",
    env="production",
    state="active",
    tools=frozenset({"crm:search", "crm:refund", "pay:*"}),
    tool_rules=(
        ToolRule("crm:refund", "condition", "args.amount <= 500"),
        ToolRule("crm:refund", "condition", "args.currency == 'EUR'"),
        ToolRule("pay:transfer", "approval", "role:reviewer"),
    ),
)


def test_scope_exact_and_wildcard_per_server() -> None:
    assert in_scope(GRANT, "crm", "search") and in_scope(GRANT, "pay", "anything")
    assert not in_scope(GRANT, "crm", "delete") and not in_scope(GRANT, "other", "search")
    out = check(GRANT, "crm", "delete", {})
    assert out.reason is Reason.TOOL_NOT_IN_SCOPE and "crm:refund, crm:search" in out.detail


def test_conditions_all_hold_or_the_call_is_refused_naming_the_condition() -> None:
    assert check(GRANT, "crm", "refund", {"amount": 500, "currency": "EUR"}).allowed
    over = check(GRANT, "crm", "refund", {"amount": 501, "currency": "EUR"})
    assert over.reason is Reason.TOOL_CONDITION_FAILED and "args.amount <= 500" in over.detail
    assert "false" in over.detail
    missing = check(GRANT, "crm", "refund", {"currency": "EUR"})  # deny by default when it cannot be evaluated
    assert missing.reason is Reason.TOOL_CONDITION_FAILED and "could not be evaluated" in missing.detail


def test_approval_rule_asks_for_its_approver() -> None:
    out = check(GRANT, "pay", "transfer", {"to": "x"})
    assert out.reason is Reason.APPROVAL_REQUIRED and out.approver == "role:reviewer"
    assert check(GRANT, "pay", "balance", {}).allowed


@pytest.mark.parametrize("name", ["search\u0430", "ѕearch", "search\u200b", "", "a" * 129, "a b", 3, None])
def test_names_must_be_plain_ascii(name: object) -> None:
    with pytest.raises(BadCall) as err:
        check_name(name)
    assert err.value.code == "invalid_tool_name"


def test_arguments_are_canonical_and_bounded() -> None:
    assert canonical_args({"b": 1, "a": [1.0, "x"]}) == b'{"a":[1,"x"],"b":1}'
    assert canonical_args(None) == b"{}"
    with pytest.raises(BadCall) as err:
        canonical_args({"q": "x" * 70_000})
    assert err.value.code == "arguments_too_large"
    with pytest.raises(BadCall):
        canonical_args(["not", "an", "object"])


def test_parse_refuses_batches_repeats_and_junk() -> None:
    for raw, reason in [
        (b"[]", "batch_not_allowed"),
        (b"{", "invalid_request"),
        (b'{"jsonrpc":"1.0","method":"x"}', "invalid_request"),
        (b'{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}', "ambiguous_request"),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"x":{"y":1,"y":2}},"name":"t"}}',
         "ambiguous_request"),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}', "invalid_request"),
    ]:  # fmt: skip
        with pytest.raises(wire.WireError) as err:
            wire.parse(raw)
        assert err.value.reason == reason, raw
    msg = wire.parse(b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","arguments":{"a":1}}}')
    assert (msg.id, msg.method, msg.name, msg.arguments) == (7, "tools/call", "t", {"a": 1})
    assert wire.parse(b'{"jsonrpc":"2.0","id":7,"result":{}}').method is None


def _h(**kw: str) -> dict[str, list[str]]:
    return {k.replace("_", "-"): [v] for k, v in kw.items()}


def test_headers_must_match_the_body_on_the_modern_revision_and_when_sent() -> None:
    msg = wire.parse(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}')
    modern = {"mcp_protocol_version": "2026-07-28"}
    wire.check_headers(msg, _h(**modern, mcp_method="tools/call", mcp_name="t"))
    b64 = "=?base64?" + base64.b64encode(b"t").decode() + "?="
    wire.check_headers(msg, _h(**modern, mcp_method="tools/call", mcp_name=b64))
    wire.check_headers(msg, _h(mcp_protocol_version="2025-06-18"))  # legacy: the headers are optional
    for bad in (
        _h(**modern, mcp_method="tools/call"),
        _h(**modern, mcp_method="tools/list", mcp_name="t"),
        _h(mcp_protocol_version="2025-06-18", mcp_name="u"),  # legacy, but sent: must match
        {**_h(**modern, mcp_method="tools/call"), "mcp-name": ["t", "u"]},
    ):
        with pytest.raises(wire.WireError) as err:
            wire.check_headers(msg, bad)
        assert (err.value.rpc_code, err.value.status) == (wire.HEADER_MISMATCH, 400)


def test_listing_is_filtered_in_json_and_in_sse() -> None:
    doc = b'{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"},{"name":"b"},{"name":"\xd0\xb0"}]}}'
    out, removed = wire.filter_listing(doc, False, 3, lambda n: n == "a")
    assert removed == 2 and b'"b"' not in out and b'"a"' in out
    sse = b"event: message\r\ndata: " + doc + b"\r\n\r\n"
    out, removed = wire.filter_listing(sse, True, 3, lambda n: n == "b")
    assert removed == 2 and b'"name":"b"' in out and b'"name":"a"' not in out and out.startswith(b"event: message")
    assert wire.response_to(out, True, 3)["result"]["tools"] == [{"name": "b"}]


def test_license_rules_parse_with_clear_errors() -> None:
    tools = ["crm:refund", "pay:*"]
    rules = parse(["crm:refund => args.amount <= 500"], ["pay:transfer => role:reviewer"], tools)
    assert rules == [
        {"tool": "crm:refund", "kind": "condition", "value": "args.amount <= 500"},
        {"tool": "pay:transfer", "kind": "approval", "value": "role:reviewer"},
    ]
    assert parse(*render(rules), tools) == rules
    assert [r["tool"] for r in parse([], ["role:reviewer"], tools)] == ["crm:refund", "pay:*"]
    assert parse([], ["pay:transfer=role:reviewer"], tools) == rules[1:]  # the short form
    for conditions, approvals, field in [
        (["crm:refund => args.amount <="], [], "tool_conditions"),
        (["crm:refund => nope.x > 1"], [], "tool_conditions"),
        (["crm:delete => args.a == 1"], [], "tool_conditions"),  # not among the license's tools
        (["no arrow"], [], "tool_conditions"),
        ([], ["crm:refund => treasury"], "approvals"),
    ]:
        with pytest.raises(InvalidInput) as err:
            parse(conditions, approvals, tools)
        assert err.value.field == field
    grant = grant_from({"license_id": "l", "digest": "d", "env": "e", "tools": tools, "tool_rules": rules})
    assert grant.tool_rules[1] == ToolRule("pay:transfer", "approval", "role:reviewer")
