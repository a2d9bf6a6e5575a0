"""ASGI middleware refusing JSON request bodies that repeat a key in one object (400 `duplicate_key`).

JSON parsers disagree on `{"principal": "a", "principal": "b"}` (first wins, last wins, error): a body one layer
checks and another acts on differently is a smuggling tool, so the API accepts only bodies with one meaning. Bodies
are at most CHARTER_MAX_BODY_BYTES (the size limit runs first) and are read whole by the route anyway.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def duplicate_key(body: bytes) -> str | None:
    """The first key repeated within one object of the JSON `body`, or None (also for a body that is no JSON: the
    route's parser reports that)."""
    try:
        json.loads(body, object_pairs_hook=_pairs)
    except _Duplicate as dup:
        return dup.key
    except (ValueError, RecursionError):
        return None
    return None


class DuplicateKeys:
    """Refuse JSON bodies with a repeated key; `exempt_prefixes` (large uploads that stream) are left alone."""

    def __init__(self, app: ASGIApp, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _METHODS
            or not _is_json(scope)
            or any(scope["path"].startswith(p) for p in self.exempt)
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        key = duplicate_key(b"".join(chunks))
        if key is not None:
            await _refuse(send, key)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def _is_json(scope: Scope) -> bool:
    """As FastAPI decides to parse a body as JSON: a JSON media type, or none at all (an empty one too)."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return (
                not kind
                or kind == b"application/json"
                or (kind.startswith(b"application/") and kind.endswith(b"+json"))
            )
    return True


async def _refuse(send: Send, key: str) -> None:
    shown = key if len(key) <= 80 else key[:80] + "…"
    body = json.dumps(
        {
            "type": "https://charter.dev/problems/duplicate_key",
            "title": "duplicate key",
            "status": 400,
            "code": "duplicate_key",
            "detail": f"the JSON body repeats the key {shown!r} in one object: send each key once",
            "field": shown,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
