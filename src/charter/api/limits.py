"""ASGI middleware refusing request bodies over the configured size with 413 problem+json."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from charter.core.errors import ErrorCode


class BodySizeLimit:
    """Rejects bodies larger than `limit` bytes, by Content-Length up front or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        exempt_prefixes: tuple[str, ...] = (),
        exempt_suffixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt_prefixes
        self.exempt_suffixes = exempt_suffixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(self.exempt) or path.endswith(self.exempt_suffixes):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
                    return
        received = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            # Raising here would reach the framework's body parser, which turns any error into a 400; instead
            # answer 413 ourselves and tell the app the client is gone, dropping whatever it sends afterwards.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    rejected = True
                    if not started:
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not rejected:
                raise

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "https://charter.dev/problems/payload_too_large",
                "title": "payload too large",
                "status": 413,
                "code": ErrorCode.PAYLOAD_TOO_LARGE,
                "detail": f"request body exceeds {self.limit} bytes (CHARTER_MAX_BODY_BYTES)",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),  # the rest of the body is not read: end the connection
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
