"""ASGI middleware refusing requests whose meaning depends on who reads them.

- JSON bodies that repeat a key in one object (400 `duplicate_key`): parsers disagree on `{"principal": "a",
  "principal": "b"}` (first wins, last wins, error); a body one layer checks and another acts on differently is a
  smuggling tool.
- NUL characters in the path, the query or a JSON string (422 `nul_character`): SQLite stores them, PostgreSQL
  refuses them, C strings end at them.

Bodies are at most CHARTER_MAX_BODY_BYTES (the size limit runs first) and are read whole by the route anyway.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from charter.core.errors import ErrorCode

_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _Nul(Exception):
    pass


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        if "\x00" in key or (type(value) is str and "\x00" in value) or (type(value) is list and _nul_in(value)):
            raise _Nul
        seen[key] = value
    return seen


def _nul_in(items: list[Any]) -> bool:
    return any((type(v) is str and "\x00" in v) or (type(v) is list and _nul_in(v)) for v in items)


def body_problem(body: bytes) -> tuple[int, str, str, str | None] | None:
    """(status, code, detail, field) when the JSON `body` repeats a key within one object or holds a NUL
    character, else None (also for a body that is no JSON: the route's parser reports that)."""
    try:
        doc = json.loads(body, object_pairs_hook=_pairs)
        if (type(doc) is str and "\x00" in doc) or (type(doc) is list and _nul_in(doc)):
            raise _Nul
    except _Duplicate as dup:
        shown = dup.key if len(dup.key) <= 80 else dup.key[:80] + "…"
        return 400, "duplicate_key", f"the JSON body repeats the key {shown!r} in one object: send each key once", shown
    except _Nul:
        return 422, "nul_character", NUL_DETAIL, None
    except (ValueError, RecursionError):
        return None
    return None


NUL_DETAIL = "text may not contain NUL characters (\\u0000, %00): remove them"


class DuplicateKeys:
    """Refuse JSON bodies with a repeated key; `exempt_prefixes` (large uploads that stream) are left alone."""

    def __init__(self, app: ASGIApp, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _nul_in_target(scope):
            await _refuse(send, 422, ErrorCode.NUL_CHARACTER, NUL_DETAIL, None)
            return
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
        found = body_problem(b"".join(chunks))
        if found is not None:
            await _refuse(send, *found)
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


def _nul_in_target(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


async def _refuse(send: Send, status: int, code: str, detail: str, field: str | None) -> None:
    doc: dict[str, Any] = {
        "type": f"https://charter.dev/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if field is not None:
        doc["field"] = field
    body = json.dumps(doc).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
