"""Tool rules of a license: argument conditions (CEL over the call's `args`) and runtime approvals, per tool scope
entry.

`--tool-condition 'crm-tools:refund => args.amount <= 500'` and `--approval 'payments:transfer => role:treasury'`
(short form `payments:transfer=role:treasury`; a bare `role:treasury` applies to every tool the license lists) are
parsed when the license is requested, so a condition that does not compile or an approver that is not a role is
refused then, naming the field; the stored form is a list of `{"tool", "kind": "condition"|"approval", "value"}`.
An approver `role:NAME` is a Charter role or a reviewer's function (`deployments.approvals.may_approve`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from charter.core.errors import ErrorCode, InvalidInput
from charter.policies.cel import ExpressionError, compile_expression

# A tool scope entry: a plain tool name (OpenAI tools), `server:tool` or `server:*` (MCP deployments).
TOOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,119}(?::(?:\*|[A-Za-z0-9_./-]{1,128}))?$"
_TOOL = re.compile(TOOL_PATTERN)
_ROLE = re.compile(r"^role:[a-z][a-z0-9_-]{0,39}$")
MAX_RULES = 100
CONDITION_VARIABLES = frozenset({"args", "tool", "server"})  # what a tool condition reads
Rule = dict[str, Any]


def _split(text: str, field: str, example: str) -> tuple[str, str]:
    tool, sep, rest = text.partition("=>")
    tool, rest = tool.strip(), rest.strip()
    if not sep or not tool or not rest:
        raise InvalidInput(f"{field} {text[:200]!r}: expected 'TOOL => …', e.g. {example!r}", field=field)
    if _TOOL.fullmatch(tool) is None:
        raise InvalidInput(
            f"{field} {text[:200]!r}: tool {tool[:130]!r} is not a tool scope entry (NAME, SERVER:TOOL or SERVER:*)",
            field=field,
        )
    return tool, rest


def parse(conditions: Iterable[str], approvals: Iterable[str], tools: Sequence[str]) -> list[Rule]:
    """The stored rules; InvalidInput naming the field when a condition does not compile or an approval is
    malformed, or names a tool the license does not list."""
    listed = set(tools)
    out: list[Rule] = []
    for text in conditions:
        tool, expr = _split(text, "tool_conditions", "crm-tools:refund => args.amount <= 500")
        try:
            compile_expression(expr, CONDITION_VARIABLES)
        except ExpressionError as exc:
            raise InvalidInput(
                f"tool_conditions {text[:200]!r}: {exc.message}",
                code=ErrorCode.INVALID_CONDITION,
                field="tool_conditions",
            ) from None
        out.append({"tool": _listed(tool, listed, "tool_conditions"), "kind": "condition", "value": expr})
    for text in approvals:
        if "=" in text and "=>" not in text:  # the short form, 'SERVER:TOOL=role:R'
            text = text.replace("=", " => ", 1)
        if "=>" in text:
            tool, who = _split(text, "approvals", "payments:transfer => role:treasury")
            targets = [_listed(tool, listed, "approvals")]
        else:
            who, targets = text.strip(), sorted(listed)
            if not targets:
                raise InvalidInput(
                    "approvals: a bare approver needs at least one --tool to apply to", field="approvals"
                )
        if _ROLE.fullmatch(who) is None:
            raise InvalidInput(f"approvals {text[:200]!r}: the approver must be role:NAME", field="approvals")
        out.extend({"tool": t, "kind": "approval", "value": who} for t in targets)
    if len(out) > MAX_RULES:
        raise InvalidInput(f"at most {MAX_RULES} tool rules per license", field="tool_conditions")
    return out


def _listed(tool: str, listed: set[str], field: str) -> str:
    if tool in listed:
        return tool
    server, sep, _ = tool.partition(":")
    if sep and f"{server}:*" in listed:
        return tool
    raise InvalidInput(
        f"{field}: tool {tool!r} is not among the license's tools ({', '.join(sorted(listed))})", field=field
    )


def render(rules: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(conditions, approvals) texts that parse back to `rules`."""
    conditions = [f"{r['tool']} => {r['value']}" for r in rules if r.get("kind") == "condition"]
    approvals = [f"{r['tool']} => {r['value']}" for r in rules if r.get("kind") == "approval"]
    return conditions, approvals
