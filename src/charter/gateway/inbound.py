"""Reading what a call asks for: the caller's key, the purpose header, the declared body size, the OpenAI body
(model, tools) and whether it repeats a key that decides the call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from charter.core.errors import ErrorCode, InvalidInput
from charter.deployments.tools import AmbiguousDocument, BadToolShape, check_request_keys, request_tools, strict_loads

# Never forwarded upstream: the caller's Charter key, hop-by-hop headers, and Charter's own headers; and
# Accept-Encoding, so answers come back readable (their tool calls are checked).
_DROP_REQUEST = frozenset(
    {
        b"host",
        b"authorization",
        b"accept-encoding",
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
    content_length: int | None = None  # as declared; -1 when unreadable
    approval: str | None = None  # Charter-Approval: the approval id an OpenAI tool call's retry spends


def inbound(headers: list[tuple[bytes, bytes]]) -> Inbound:
    """One pass over the raw ASGI headers."""
    token = purpose = approval = None
    length: int | None = None
    forward: list[tuple[str, str]] = []
    for name, value in headers:
        if name == b"content-length":
            length = int(value) if value.isdigit() else -1
        elif name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                token = rest.strip()
        elif name.startswith(b"charter-"):
            if name == b"charter-purpose":
                purpose = value.decode("latin-1").strip() or None
            elif name == b"charter-approval":
                approval = value.decode("latin-1").strip()[:60] or None
        elif name not in _DROP_REQUEST:
            forward.append((name.decode("latin-1"), value.decode("latin-1")))
    return Inbound(token, purpose, forward, length, approval)


@dataclass(slots=True)
class OpenAICall:
    model: str
    doc: dict[str, Any]


def openai_call(body: bytes) -> OpenAICall:
    """Parse an OpenAI-shaped JSON body; the `model` field names the deployment."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("request body is not valid JSON", code=ErrorCode.INVALID_REQUEST, field="body") from None
    if not isinstance(doc, dict):
        raise InvalidInput("request body must be a JSON object", code=ErrorCode.INVALID_REQUEST, field="body")
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput("`model` must name a Charter deployment", code=ErrorCode.INVALID_REQUEST, field="model")
    return OpenAICall(model=model, doc=doc)


def call_tools(body: bytes, doc: dict[str, Any]) -> tuple[str, ...]:
    """The tools the call offers or forces, after refusing a body that repeats a key deciding them (or the model).

    The strict (duplicate-aware) parse runs only when a repeat is possible: the body has a tools field (a repeated
    key still leaves one in `doc`), escapes characters (a key can be spelled with `\\u` escapes), or names the
    model twice. A plain call without tools costs two byte scans and four dictionary lookups.
    """
    offers = "tools" in doc or "functions" in doc or "tool_choice" in doc or "function_call" in doc
    if offers or b"\\u" in body or body.count(b'"model"') > 1:
        try:
            check_request_keys(strict_loads(body))
        except AmbiguousDocument as exc:
            raise InvalidInput(
                f"{exc}: the gateway and the model server could read different calls; send each key once",
                code=ErrorCode.AMBIGUOUS_REQUEST,
                field="body",
            ) from None
        except ValueError:
            raise InvalidInput("request body is not valid JSON", code=ErrorCode.INVALID_REQUEST, field="body") from None
    if not offers:
        return ()
    try:
        return request_tools(doc)
    except BadToolShape as exc:
        raise InvalidInput(str(exc), code=ErrorCode.INVALID_REQUEST, field="body") from None
