"""Reading what a call asks for: the caller's key, the purpose header, the OpenAI body (model, tools, stream)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from charter.core.errors import InvalidInput

# Never forwarded upstream: the caller's Charter key, hop-by-hop headers, and Charter's own headers.
_DROP_REQUEST = frozenset(
    {
        b"host",
        b"authorization",
        b"content-length",
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
        b"proxy-authorization",
        b"proxy-connection",
    }
)


@dataclass(slots=True)
class Inbound:
    """The parts of the request headers the gateway looks at, plus the headers it forwards."""

    token: str | None
    purpose: str | None
    forward: list[tuple[str, str]]


def inbound(headers: list[tuple[bytes, bytes]]) -> Inbound:
    """One pass over the raw ASGI headers."""
    token = purpose = None
    forward: list[tuple[str, str]] = []
    for name, value in headers:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                token = rest.strip()
        elif name.startswith(b"charter-"):
            if name == b"charter-purpose":
                purpose = value.decode("latin-1").strip() or None
        elif name not in _DROP_REQUEST:
            forward.append((name.decode("latin-1"), value.decode("latin-1")))
    return Inbound(token, purpose, forward)


@dataclass(slots=True)
class OpenAICall:
    model: str
    tools: tuple[str, ...]
    stream: bool
    doc: dict[str, Any]


def _tool_names(doc: dict[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    tools = doc.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            fn = tool.get("function") if isinstance(tool, dict) else None
            name = fn.get("name") if isinstance(fn, dict) else None
            if not isinstance(name, str):
                # A tool without a function name cannot be checked against the license: name it so it is refused.
                kind = tool.get("type") if isinstance(tool, dict) else None
                name = f"<{kind or 'unnamed'}>"
            names.append(name)
    functions = doc.get("functions")  # the legacy OpenAI field
    if isinstance(functions, list):
        for fn in functions:
            name = fn.get("name") if isinstance(fn, dict) else None
            names.append(name if isinstance(name, str) else "<unnamed>")
    return tuple(names)


def openai_call(body: bytes) -> OpenAICall:
    """Parse an OpenAI-shaped JSON body; the `model` field names the deployment."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("request body is not valid JSON", code="invalid_request", field="body") from None
    if not isinstance(doc, dict):
        raise InvalidInput("request body must be a JSON object", code="invalid_request", field="body")
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput("`model` must name a Charter deployment", code="invalid_request", field="model")
    return OpenAICall(model=model, tools=_tool_names(doc), stream=doc.get("stream") is True, doc=doc)
