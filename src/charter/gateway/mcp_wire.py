"""MCP over Streamable HTTP, as far as the gateway reads it: one JSON-RPC message per POST, the 2026-07-28
routing headers that must repeat the body, and the answers it rewrites (a filtered `tools/list`) or digests.

Parsed with the duplicate-aware JSON reader: a message that repeats a key deciding what it does (`method`,
`params`, a tool's `name`, its `arguments` or any key inside them) could be read as two different calls by Charter
and the MCP server, so it is refused. A batch (a JSON array, allowed by the 2025-03-26 revision only) is refused
too: one POST, one message, one decision.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from charter.core.errors import ErrorCode
from charter.deployments.tools import strict_loads

MODERN = "2026-07-28"  # the first revision without sessions, with Mcp-Method / Mcp-Name headers
NAME_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
HEADER_MISMATCH = -32020
CHARTER_REFUSED = -32001  # Charter's own: the license does not allow this message (data.reason says why)
APPROVAL_REQUIRED = -32002
_TOP = frozenset({"jsonrpc", "id", "method", "params", "result", "error"})
_PARAMS = frozenset({"name", "uri", "arguments", "_meta"})
_B64 = re.compile(r"=\?base64\?(?P<payload>[A-Za-z0-9+/=]*)\?=")
_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\r|\n")
APPROVAL_META = "charter.dev/approval"


class WireError(Exception):
    """A message the gateway will not pass on: its JSON-RPC error code, stable reason and HTTP status."""

    def __init__(self, rpc_code: int, reason: str, message: str, status: int = 400, msg_id: Any = None) -> None:
        super().__init__(message)
        self.rpc_code = rpc_code
        self.reason = reason
        self.message = message
        self.status = status
        self.msg_id = msg_id


@dataclass(slots=True)
class Message:
    """One client → server JSON-RPC message."""

    id: Any
    method: str | None  # None: a response to a server's request (legacy sessions)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> Any:
        key = NAME_PARAM.get(self.method or "")
        return self.params.get(key) if key else None

    @property
    def arguments(self) -> Any:
        return self.params.get("arguments")

    @property
    def approval(self) -> str | None:
        meta = self.params.get("_meta")
        value = meta.get(APPROVAL_META) if isinstance(meta, dict) else None
        return value if isinstance(value, str) else None


def _repeats(value: Any) -> str | None:
    """The first repeated key anywhere inside `value` (a `strict_loads` document), or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            repeated: frozenset[str] = getattr(item, "repeated", frozenset())
            if repeated:
                return str(sorted(repeated)[0])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def parse(body: bytes) -> Message:
    try:
        doc = strict_loads(body)
    except (ValueError, RecursionError):
        raise WireError(
            PARSE_ERROR, ErrorCode.INVALID_REQUEST, "the body is not one JSON-RPC message in JSON"
        ) from None
    if isinstance(doc, list):
        raise WireError(
            INVALID_REQUEST,
            "batch_not_allowed",
            "JSON-RPC batches are refused: send one message per POST, so each is decided and audited on its own",
        )
    if not isinstance(doc, dict) or doc.get("jsonrpc") != "2.0":
        raise WireError(INVALID_REQUEST, ErrorCode.INVALID_REQUEST, "the body must be a JSON-RPC 2.0 object")
    msg_id = doc.get("id")
    top: frozenset[str] = getattr(doc, "repeated", frozenset()) & _TOP
    if top:
        raise WireError(
            INVALID_REQUEST, ErrorCode.AMBIGUOUS_REQUEST, f"key '{sorted(top)[0]}' appears more than once", 400
        )
    method = doc.get("method")
    if method is None:
        if "result" in doc or "error" in doc:
            return Message(msg_id, None)
        raise WireError(
            INVALID_REQUEST, ErrorCode.INVALID_REQUEST, "a JSON-RPC request needs a `method`", msg_id=msg_id
        )
    if not isinstance(method, str) or not method or len(method) > 200:
        raise WireError(INVALID_REQUEST, ErrorCode.INVALID_REQUEST, "`method` must be a short string", msg_id=msg_id)
    params = doc.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise WireError(INVALID_REQUEST, ErrorCode.INVALID_REQUEST, "`params` must be an object", msg_id=msg_id)
    if method in NAME_PARAM:
        inner: frozenset[str] = getattr(params, "repeated", frozenset()) & _PARAMS
        repeated = sorted(inner)[0] if inner else _repeats(params.get("arguments"))
        if repeated is not None:
            raise WireError(
                INVALID_REQUEST,
                "ambiguous_request",
                f"key '{repeated}' appears more than once in {method}: Charter and the server could read different "
                "calls; send each key once",
                msg_id=msg_id,
            )
    return Message(msg_id, method, params)


def decode_header(value: str | None) -> str | None:
    """An `Mcp-Name` value, with the `=?base64?…?=` form for names that are not plain ASCII decoded."""
    if value is None:
        return None
    m = _B64.fullmatch(value)
    if m is None:
        return value
    try:
        return base64.b64decode(m["payload"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def check_headers(msg: Message, headers: Mapping[str, list[str]]) -> None:
    """Refuse (400, -32020) a message whose routing headers say something else than its body.

    On 2026-07-28 and later `Mcp-Method` (and for tools/call, prompts/get, resources/read `Mcp-Name`) must be sent
    and match; on older revisions they are optional, but when sent they must match too: an intermediary routing on
    the header must never see another call than the server runs.
    """
    for key in ("mcp-method", "mcp-name", "mcp-protocol-version", "mcp-session-id"):
        if len(headers.get(key, ())) > 1:
            raise WireError(
                HEADER_MISMATCH, ErrorCode.HEADER_MISMATCH, f"{key} header appears more than once", msg_id=msg.id
            )
    version = _one(headers, "mcp-protocol-version")
    modern = version is not None and version >= MODERN
    meta = msg.params.get("_meta")
    body_version = meta.get("io.modelcontextprotocol/protocolVersion") if isinstance(meta, dict) else None
    if body_version is not None and version is not None and body_version != version:
        raise WireError(
            HEADER_MISMATCH,
            "header_mismatch",
            "mcp-protocol-version header does not match the request envelope's protocol version",
            msg_id=msg.id,
        )
    if msg.method is None:
        return
    sent = _one(headers, "mcp-method")
    if (modern or sent is not None) and sent != msg.method:
        raise WireError(
            HEADER_MISMATCH,
            "header_mismatch",
            "mcp-method header does not match the request body's method",
            msg_id=msg.id,
        )
    param = NAME_PARAM.get(msg.method)
    raw = _one(headers, "mcp-name")
    if param is None:
        if raw is not None:
            raise WireError(
                HEADER_MISMATCH,
                "header_mismatch",
                f"mcp-name header sent with {msg.method}, which names nothing",
                msg_id=msg.id,
            )
        return
    if (modern or raw is not None) and decode_header(raw) != msg.name:
        raise WireError(
            HEADER_MISMATCH,
            "header_mismatch",
            f"mcp-name header does not match the request body's '{param}'",
            msg_id=msg.id,
        )


def _one(headers: Mapping[str, list[str]], key: str) -> str | None:
    values = headers.get(key)
    return values[0] if values else None


def error_body(msg_id: Any, code: int, message: str, data: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message, "data": data}})


# --- answers -------------------------------------------------------------------------------------------------


def _event_data(event: bytes) -> bytes | None:
    lines = [line[5:] for line in _LINE.split(event) if line.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)


def answers(payload: bytes, sse: bool) -> list[Any]:
    """The JSON-RPC messages in an answer (a JSON body, or the data of SSE events); unreadable parts skipped."""
    if not sse:
        try:
            return [orjson.loads(payload)]
        except orjson.JSONDecodeError:
            return []
    out = []
    for event in _BOUNDARY.split(payload):
        data = _event_data(event)
        if data:
            try:
                out.append(orjson.loads(data))
            except orjson.JSONDecodeError:
                continue
    return out


def response_to(payload: bytes, sse: bool, msg_id: Any) -> Any:
    """The response (result or error object) answering `msg_id`, or None."""
    for doc in answers(payload, sse):
        if isinstance(doc, dict) and doc.get("id") == msg_id and ("result" in doc or "error" in doc):
            return doc
    return None


def filter_listing(payload: bytes, sse: bool, msg_id: Any, allowed: Callable[[str], bool]) -> tuple[bytes, int]:
    """The answer with `result.tools` cut to the allowed names; (new payload, how many were removed)."""
    removed = 0

    def cut(doc: Any) -> Any:
        nonlocal removed
        result = doc.get("result") if isinstance(doc, dict) and doc.get("id") == msg_id else None
        if not isinstance(result, dict):
            return None
        tools = result.get("tools")
        if not isinstance(tools, list):
            return None
        kept = [t for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str) and allowed(t["name"])]
        removed += len(tools) - len(kept)
        return {**doc, "result": {**result, "tools": kept}}

    if not sse:
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload, 0
        new = cut(doc)
        return (orjson.dumps(new), removed) if new is not None else (payload, 0)
    parts: list[bytes] = []
    start = 0
    for m in _BOUNDARY.finditer(payload):
        event = payload[start : m.start()]
        start = m.end()
        data = _event_data(event)
        new = None
        if data:
            try:
                new = cut(orjson.loads(data))
            except orjson.JSONDecodeError:
                new = None
        if new is None:
            parts.append(event + b"\n\n")
            continue
        kept = [line for line in _LINE.split(event) if line and not line.startswith(b"data:")]
        parts.append(b"\n".join([*kept, b"data: " + orjson.dumps(new)]) + b"\n\n")
    parts.append(payload[start:])
    return b"".join(parts), removed
