"""One tool call against a license: scope (`SERVER:TOOL`, `SERVER:*`), argument conditions (CEL over `args`),
approvals, and the checks that keep a name or its arguments from meaning two things.

Shared by the gateway's MCP route and the SDK guard (`guard.tool_call`). Pure functions, no I/O: the approval
store is asked by the caller when `check` answers `APPROVAL_REQUIRED`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from charter.core.canonical import canonical_json
from charter.core.errors import ErrorCode
from charter.core.hashing import sha256_hex
from charter.deployments.model import Grant, Reason, ToolRule
from charter.deployments.tools import strict_loads
from charter.policies import cel

# MCP tool names (SEP-986): 1-128 characters of ASCII letters, digits, `_`, `-`, `.`, `/`. Anything else (a
# Cyrillic `а`, a full-width letter, a zero-width joiner) could look like an allowed name and is refused.
_NAME = re.compile(r"[A-Za-z0-9_./-]{1,128}")
MAX_ARGUMENT_BYTES = 64 * 1024


class BadCall(ValueError):
    """The call cannot be checked as sent (its name or arguments); `code` is the stable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ToolDecision:
    """Whether a call may go on: `reason` None when it may; `approver` set when it waits for one."""

    reason: Reason | None
    detail: str = ""
    approver: str | None = None

    @property
    def allowed(self) -> bool:
        return self.reason is None


def check_name(name: Any, what: str = "tool") -> str:
    """The name, when it is a plain ASCII tool name; BadCall otherwise (look-alike characters included)."""
    if not isinstance(name, str) or not name:
        raise BadCall(ErrorCode.INVALID_TOOL_NAME, f"the {what} name must be a non-empty string")
    if _NAME.fullmatch(name) is None:
        shown = name[:130].encode("ascii", "backslashreplace").decode()
        raise BadCall(
            ErrorCode.INVALID_TOOL_NAME,
            f"{what} name {shown!r} is not a plain name (1-128 ASCII letters, digits, '_', '-', '.', '/'): "
            "look-alike and invisible characters are refused",
        )
    return name


def canonical_args(args: Any) -> bytes:
    """RFC 8785 bytes of the call's arguments (an object, or null for none); BadCall when too big or not JSON."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise BadCall(ErrorCode.INVALID_ARGUMENTS, "`arguments` must be a JSON object")
    try:
        raw = canonical_json(args)
    except Exception:
        raise BadCall(ErrorCode.INVALID_ARGUMENTS, "`arguments` cannot be put in canonical JSON form") from None
    if len(raw) > MAX_ARGUMENT_BYTES:
        raise BadCall(ErrorCode.ARGUMENTS_TOO_LARGE, f"arguments of {len(raw)} bytes exceed {MAX_ARGUMENT_BYTES} bytes")
    return raw


def digest(raw: bytes) -> str:
    return sha256_hex(raw)


def entry(server: str, tool: str) -> str:
    return f"{server}:{tool}"


def in_scope(grant: Grant, server: str, tool: str) -> bool:
    return entry(server, tool) in grant.tools or f"{server}:*" in grant.tools


def rules_for(grant: Grant, server: str, tool: str) -> list[ToolRule]:
    exact, wild = entry(server, tool), f"{server}:*"
    return [r for r in grant.tool_rules if r.tool in (exact, wild)]


def check(grant: Grant, server: str, tool: str, args: Mapping[str, Any]) -> ToolDecision:
    """Scope, then every condition, then approval, for `server:tool` with `args` under `grant`."""
    if not in_scope(grant, server, tool):
        listed = sorted(t for t in grant.tools if t.startswith(server + ":"))
        return ToolDecision(
            Reason.TOOL_NOT_IN_SCOPE,
            f"tool {entry(server, tool)} is not in license {grant.license_id} (tools on {server}: "
            f"{', '.join(listed) or 'none'})",
        )
    return _apply(grant, rules_for(grant, server, tool), server, tool, args, entry(server, tool))


def check_rules(grant: Grant, server: str, tool: str, args: Mapping[str, Any]) -> ToolDecision:
    """Conditions, then approval, of a plain tool name (an OpenAI tool of deployment `server`) the license lists:
    the rules whose entry is exactly `tool`. The scope itself was checked on the name."""
    return _apply(grant, [r for r in grant.tool_rules if r.tool == tool], server, tool, args, f"tool {tool}")


def _apply(
    grant: Grant, rules: Sequence[ToolRule], server: str, tool: str, args: Mapping[str, Any], named: str
) -> ToolDecision:
    """Every condition first (the first that fails refuses), then the first approval rule (held for approval)."""
    for rule in rules:
        if rule.kind == "condition":
            why = condition_failure(rule.value, server, tool, args)
            if why is not None:
                return ToolDecision(
                    Reason.TOOL_CONDITION_FAILED,
                    f"license {grant.license_id}: condition '{rule.value}' on {rule.tool} {why}",
                )
    for rule in rules:
        if rule.kind == "approval":
            return ToolDecision(
                Reason.APPROVAL_REQUIRED,
                f"license {grant.license_id}: {named} needs approval by {rule.value}",
                approver=rule.value,
            )
    return ToolDecision(None)


def ruled(grant: Grant, tools: Iterable[str]) -> list[str]:
    """The plain tool names among `tools` the license has conditions or approvals for."""
    names = {r.tool for r in grant.tool_rules}
    return [t for t in tools if t in names]


def condition_failure(expr: str, server: str, tool: str, args: Mapping[str, Any]) -> str | None:
    """None when the condition holds; else why not (false, not a boolean, or an evaluation error)."""
    # Cached by digest: compiled when the license was requested.
    compiled = cel.compile_expression(expr, frozenset({"args", "tool", "server"}))
    try:
        context = cel.make_context({"args": dict(args), "tool": tool, "server": server})
    except Exception:
        return "cannot read these arguments"
    value, error = cel.run(compiled, context)
    if error is not None:
        return f"could not be evaluated on these arguments ({error})"
    if value is not True:
        return "is false for these arguments" if value is False else f"gave {type(value).__name__}, not a boolean"
    return None


@dataclass(frozen=True, slots=True)
class RuledCall:
    """A tool call in a model's answer whose tool has conditions or an approval in the license."""

    tool: str
    args: dict[str, Any] | None  # None when the arguments are not a JSON object
    args_sha256: str
    problem: str = ""  # why the arguments cannot be checked


def ruled_call(name: str, raw: Any) -> RuledCall:
    """One call of a ruled tool: its arguments (a JSON text, as OpenAI sends them, or an object) read strictly."""
    try:
        args = strict_loads(raw) if isinstance(raw, str) and raw.strip() else raw
        if getattr(args, "repeated", None):  # a repeated key: the tool could read either value
            raise BadCall(ErrorCode.INVALID_ARGUMENTS, "the arguments repeat a key")
        canon = canonical_args(args)
    except (ValueError, BadCall) as exc:
        return RuledCall(name, None, "", str(exc) or "the arguments are not a JSON object")
    return RuledCall(name, dict(args or {}), digest(canon))


def ruled_calls_of(grant: Grant, calls: Sequence[tuple[str, Any]]) -> list[RuledCall]:
    """The calls (tool name, arguments as sent) of tools that have conditions or approvals in the license."""
    names = frozenset(ruled(grant, [tool for tool, _ in calls]))
    return [ruled_call(tool, args) for tool, args in calls if tool in names]


@dataclass(frozen=True, slots=True)
class AnswerCheck:
    """A model answer's calls of ruled tools against the license: the first refusal (an unreadable call, a false
    condition, or two calls needing approval: one approval passes one call), else the one call waiting for an
    approval (with its approver), if any. Who spends or asks for the approval is the caller's business."""

    refusal: ToolDecision | None = None
    refused_tool: str | None = None
    held: RuledCall | None = None
    approver: str | None = None


def check_answer(grant: Grant, server: str, found: Sequence[RuledCall]) -> AnswerCheck:
    """Every condition of every call first, then at most one approval (see `AnswerCheck`)."""
    held: list[tuple[RuledCall, str]] = []
    for rc in found:
        if rc.args is None:
            detail = f"the model called tool {rc.tool!r} with arguments that cannot be checked: {rc.problem}"
            return AnswerCheck(ToolDecision(Reason.TOOL_CONDITION_FAILED, detail), rc.tool)
        out = check_rules(grant, server, rc.tool, rc.args)
        if out.reason is Reason.APPROVAL_REQUIRED and out.approver is not None:
            held.append((rc, out.approver))
        elif out.reason is not None:
            return AnswerCheck(out, rc.tool)
    if len(held) > 1:
        detail = (
            f"the answer calls {len(held)} tools needing approval ({', '.join(rc.tool for rc, _ in held)}); an "
            'approval passes one call: ask for one tool call per answer ("parallel_tool_calls": false)'
        )
        return AnswerCheck(ToolDecision(Reason.APPROVAL_REFUSED, detail))
    if held:
        return AnswerCheck(held=held[0][0], approver=held[0][1])
    return AnswerCheck()


def waiting_detail(grant: Grant, tool: str, approver: str, approval_id: str, retry: str) -> str:
    """The refusal of a call that now waits for approval `approval_id`; `retry` says how to send it again."""
    return (
        f"license {grant.license_id}: tool {tool} needs approval by {approver}: approval {approval_id} is waiting "
        f"(charter approval approve {approval_id}); {retry} once it is approved (it passes one answer calling the "
        "tool with the same arguments)"
    )
