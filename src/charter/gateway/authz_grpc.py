"""Envoy's gRPC external authorization, `envoy.service.auth.v3.Authorization/Check`, on its own port.

Set `CHARTER_AUTHZ_GRPC_PORT` and `charter serve` / `charter gateway` also listen there (HTTP/2, grpclib, with
SO_REUSEPORT so every worker process serves it). Message types come from `envoy-data-plane` (generated from Envoy's
protos). Each Check is decided by the same code as `/authz/envoy`: the request's `attributes.request.http` (method,
path, headers, body) is replayed into it, and its answer becomes the CheckResponse:

- allowed → `status.code` 0 (OK) and `ok_response.headers` `x-charter-decision-id`, `x-charter-license-id`;
- refused → `status.code` 16 (UNAUTHENTICATED) for a missing or bad key, else 7 (PERMISSION_DENIED), and
  `denied_response` with the HTTP status (401, 403, 404, 429, 503), the problem+json body and its headers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.types import Message

if TYPE_CHECKING:
    from charter.gateway.handler import Gateway

log = logging.getLogger("charter.gateway")

OK, PERMISSION_DENIED, UNAUTHENTICATED = 0, 7, 16
_MAX_BODY = 1 << 20


async def replay(gw: Gateway, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, bytes]:
    """Run one check through `/authz/envoy` in-process; the answer's status, headers and body."""
    raw = [
        (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
        for k, v in headers.items()
        if not k.startswith(":")  # HTTP/2 pseudo-headers carry method, path and authority, passed on their own
    ]
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    target = "/authz/envoy" + (path if path.startswith("/") else "/" + path)
    path_only, _, query = target.partition("?")
    scope = {
        "type": "http",
        "method": method or "GET",
        "path": path_only,
        "raw_path": path_only.encode("latin-1", "replace"),
        "query_string": query.encode("latin-1", "replace"),
        "headers": raw,
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    answer: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await gw.authz(scope, receive, send)
    return int(answer["status"]), answer["headers"], bytes(answer["body"])


def service(gw: Gateway) -> Any:
    """The grpclib service object (imports the optional gRPC stack only when the port is configured)."""
    from envoy_data_plane.envoy.config.core.v3 import HeaderValue, HeaderValueOption
    from envoy_data_plane.envoy.service.auth.v3 import (
        AuthorizationBase,
        CheckRequest,
        CheckResponse,
        DeniedHttpResponse,
        OkHttpResponse,
    )
    from envoy_data_plane.envoy.type.v3 import HttpStatus, StatusCode
    from envoy_data_plane.google.rpc import Status

    def options(headers: Any, *, skip: tuple[bytes, ...] = ()) -> list[Any]:
        return [
            HeaderValueOption(header=HeaderValue(key=k.decode("latin-1"), value=v.decode("latin-1")))
            for k, v in headers
            if k not in skip
        ]

    class CharterAuthorization(AuthorizationBase):
        async def check(self, message: CheckRequest) -> CheckResponse:
            http = message.attributes.request.http if message.attributes and message.attributes.request else None
            if http is None:
                denied = DeniedHttpResponse(status=HttpStatus(code=StatusCode(400)), body="no attributes.request.http")
                return CheckResponse(status=Status(code=PERMISSION_DENIED, message="bad check"), denied_response=denied)
            body = bytes(http.raw_body) if http.raw_body else http.body.encode()
            if len(body) > _MAX_BODY:
                body = body[: _MAX_BODY + 1]  # over the limit: /authz refuses it as too large
            asked = dict(http.headers)
            if not asked and http.header_map is not None:  # Envoy's encode_raw_headers: values as bytes
                for h in http.header_map.headers:
                    asked.setdefault(h.key, h.value or bytes(h.raw_value).decode("latin-1"))
            status, headers, payload = await replay(gw, http.method, http.path, asked, body)
            if status == 200:
                ok = OkHttpResponse(headers=options(headers, skip=(b"content-type", b"content-length")))
                return CheckResponse(status=Status(code=OK), ok_response=ok)
            code = UNAUTHENTICATED if status == 401 else PERMISSION_DENIED
            try:
                http_status = StatusCode(status)
            except ValueError:
                http_status = StatusCode(403)
            denied = DeniedHttpResponse(
                status=HttpStatus(code=http_status),
                headers=options(headers, skip=(b"content-length",)),
                body=payload.decode("utf-8", "replace"),
            )
            return CheckResponse(status=Status(code=code, message=f"charter: {status}"), denied_response=denied)

    return CharterAuthorization()


class GrpcListener:
    """Starts and stops the gRPC server in the gateway's lifespan."""

    def __init__(self, gw: Gateway, host: str, port: int) -> None:
        self.gw, self.host, self.port = gw, host, port
        self._server: Any = None

    async def start(self) -> None:
        try:
            from grpclib.server import Server

            handler = service(self.gw)
        except ImportError:
            raise RuntimeError(
                "CHARTER_AUTHZ_GRPC_PORT is set but the gRPC stack is not installed: pip install 'charter[envoy]'"
            ) from None
        self._server = Server([handler])
        await self._server.start(self.host, self.port, reuse_port=True)
        log.info("Envoy gRPC ext_authz listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
