"""Per-tool counts on the dashboard's deployment page: which tool calls one audit entry decided."""

from __future__ import annotations

from charter.deployments.service import _called


def test_openai_tool_calls_count_on_the_deployment_page_like_mcp_calls() -> None:
    """`deployments.tool_counts` reads OpenAI entries' `tool_calls` (and out-of-scope `tools_called`) per tool."""
    ruled = [{"tool": "lookup", "args_sha256": "a"}, {"tool": "transfer", "args_sha256": "b", "approval_id": "apr_1"}]
    assert _called({"tool_calls": ruled}, True) == [("lookup", None), ("transfer", "apr_1")]
    assert _called({"tool_calls": ruled, "reason": "approval_required"}, False) == [("transfer", "apr_1")]
    assert _called({"tools_called": ["send_email"]}, False) == [("send_email", None)]
    assert _called({"mcp": {"method": "tools/call", "tool": "refund"}}, True) == [("refund", None)]
    assert _called({"tools": ["lookup"]}, True) == []
