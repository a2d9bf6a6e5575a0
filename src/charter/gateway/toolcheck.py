"""Tool calls in an OpenAI deployment's answers, checked against the license before the caller sees them.

A JSON answer is read only when a cheap byte scan says it could hold a tool call; a stream is cut into whole SSE
events, and an event is read only under the same scan. The first call of a tool the license does not list (or a
call without a name, a name sent in pieces, a repeated deciding key, an unreadable event that mentions tool calls)
stops the answer: nothing of that event goes out.

A streamed call of a tool with conditions or an approval in the license cannot be judged before its arguments are
complete: from the first event of such a call on, the stream is held (what came before it has gone out) until the
upstream ends; the gateway then checks the assembled calls like a whole answer's and releases the held events, or
ends the stream with an error event instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from charter.deployments.tools import (
    AmbiguousDocument,
    argument_pieces,
    call_arguments,
    called_tools,
    joined_arguments,
    mentions_calls,
    strict_loads,
)
from charter.deployments.toolscope import RuledCall, ruled_call

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\r|\n")
DONE = b"[DONE]"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an answer is withheld: a stable code, a detail naming the tool, the tools it called."""

    code: str
    detail: str
    tools: tuple[str, ...] = ()
    approval_id: str | None = None  # approval_required: the pending approval the caller's retry names


def ruled_calls(payload: bytes, ruled: frozenset[str]) -> list[RuledCall] | Refusal:
    """The calls of `ruled` tools in a whole JSON answer, with the sha256 of their canonical arguments."""
    if not ruled or not mentions_calls(payload):
        return []
    try:
        found = call_arguments(strict_loads(payload))
    except AmbiguousDocument as exc:
        return Refusal("tool_not_in_scope", f"the answer is ambiguous: {exc}")
    except ValueError:
        if b"tool_calls" in payload or b"function_call" in payload:  # e.g. SSE events sent as one answer
            return Refusal("tool_not_in_scope", "the answer mentions tool calls but is not one readable JSON document")
        return []
    return [ruled_call(name, raw) for name, raw in found if name in ruled]


def _event_data(event: bytes) -> bytes | None:
    lines = [line[5:] for line in _LINE.split(event) if line.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)


class Calls:
    """Tool calls seen so far in one answer; `see(doc)` returns a refusal at the first one out of scope."""

    __slots__ = ("allowed", "named")

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self.named: dict[tuple[int, int], str] = {}

    def see_json(self, data: bytes) -> Refusal | None:
        return self.read(data)[1]

    def read(self, data: bytes) -> tuple[Any, Refusal | None]:
        """The document (None when unreadable) and the refusal of its first call out of scope."""
        try:
            doc = strict_loads(data)
        except ValueError:
            if b"tool_calls" in data or b"function_call" in data:
                return None, Refusal("tool_not_in_scope", "the answer mentions tool calls but is not readable JSON")
            return None, None
        return doc, self._see(doc)

    def _see(self, doc: Any) -> Refusal | None:
        try:
            calls = called_tools(doc)
        except AmbiguousDocument as exc:
            return Refusal("tool_not_in_scope", f"the answer is ambiguous: {exc}")
        for key, name in calls:
            seen = self.named.get(key)
            if seen is not None:
                if name:
                    return Refusal("tool_not_in_scope", f"tool call {seen!r} sent its name in pieces", (seen,))
                continue
            self.named[key] = name or "<unnamed>"
            if not name or name not in self.allowed:
                tool = name or "<unnamed>"
                allowed = ", ".join(sorted(self.allowed)) or "none"
                detail = f"the model called tool {tool!r}, which is not in the license (tools: {allowed})"
                return Refusal("tool_not_in_scope", detail, (tool,))
        return None

    @property
    def tools(self) -> list[str]:
        return sorted(set(self.named.values()))


def check_payload(payload: bytes, allowed: frozenset[str]) -> Refusal | None:
    """A whole (non-streamed) answer: a JSON document, or SSE events sent without the event-stream type."""
    if not mentions_calls(payload):
        return None
    calls = Calls(allowed)
    if payload.lstrip()[:1] in (b"{", b"["):
        return calls.see_json(payload)
    for event in _BOUNDARY.split(payload):
        data = _event_data(event)
        if data is not None and data != DONE and mentions_calls(data):
            refusal = calls.see_json(data)
            if refusal is not None:
                return refusal
    return None


class EventStream:
    """Cuts a stream into whole SSE events; `feed` returns what may be sent now, holding `data: [DONE]` (released by
    the caller after the audit entry is durable; anything after it is dropped) and stopping at a refused tool call.

    With `ruled` tools (conditions or approvals in the license), everything from the first event of a call of one
    of them is held too, and its argument pieces collected: `ruled_calls()` gives the assembled calls to check once
    the upstream has ended."""

    __slots__ = ("buf", "calls", "done", "held", "holding", "pieces", "refusal", "ruled")

    def __init__(self, allowed: frozenset[str], ruled: frozenset[str] = frozenset()) -> None:
        self.calls = Calls(allowed)
        self.ruled = ruled
        self.buf = b""
        self.held = b""
        self.done = False
        self.holding = False
        self.pieces: dict[tuple[int, int], list[Any]] = {}
        self.refusal: Refusal | None = None

    def feed(self, chunk: bytes) -> bytes:
        # After `data: [DONE]` nothing more is an answer: a client reading on would act on unchecked calls.
        if self.refusal is not None or self.done:
            return b""
        buf = self.buf + chunk if self.buf else chunk
        out: list[bytes] = []
        start = 0
        for m in _BOUNDARY.finditer(buf):
            event = buf[start : m.end()]
            start = m.end()
            if not self._ok(event):
                self.buf = b""
                return b"".join(out)
            if self.done:
                self.held += event
                self.buf = b""
                return b"".join(out)
            if self.holding:
                self.held += event
            else:
                out.append(event)
        self.buf = buf[start:]
        return b"".join(out)

    def finish(self) -> None:
        """The upstream ended: check what is left of an unterminated event and hold it for the caller's release."""
        if self.refusal is None and not self.done and self.buf:
            if self._ok(self.buf):
                self.held += self.buf
            self.buf = b""

    def ruled_calls(self) -> list[RuledCall]:
        """The calls of ruled tools the stream made, each with its argument pieces joined in order."""
        out = []
        for key, name in self.calls.named.items():
            if name not in self.ruled:
                continue
            raw = joined_arguments(self.pieces.get(key, []))
            if raw is None:
                out.append(RuledCall(name, None, "", "the arguments arrived as pieces that are not all text"))
                continue
            out.append(ruled_call(name, raw))
        return out

    def _ok(self, event: bytes) -> bool:
        data = _event_data(event)
        if data is None:
            return True
        if data == DONE:
            self.done = True
            return True
        if mentions_calls(data):
            doc, self.refusal = self.calls.read(data)
            if self.refusal is None and self.ruled and doc is not None:
                self.refusal = self._collect(doc)
            return self.refusal is None
        return True

    def _collect(self, doc: Any) -> Refusal | None:
        """Hold from a ruled tool's first call on; keep its argument pieces."""
        named = self.calls.named
        if not self.holding and any(name in self.ruled for name in named.values()):
            self.holding = True
        try:
            pieces = argument_pieces(doc)
        except AmbiguousDocument as exc:
            return Refusal("tool_not_in_scope", f"the answer is ambiguous: {exc}")
        for key, piece in pieces:
            if named.get(key) in self.ruled:
                self.pieces.setdefault(key, []).append(piece)
        return None
