"""The whole `charter serve` process as one ASGI app: API, gateway, public endpoints and dashboard.

A thin path dispatcher rather than nested FastAPI mounts, so the gateway hot path skips FastAPI entirely.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from charter.api import public_url_check
from charter.api.app import API_PREFIX, create_api
from charter.api.duplicates import DuplicateKeys
from charter.api.limits import BodySizeLimit
from charter.api.public import create_public
from charter.api.routes import audit as audit_routes
from charter.api.routes import evaluation as evaluation_routes
from charter.api.routes import monitoring as monitoring_routes
from charter.bootstrap import Container, build
from charter.core import tracing
from charter.licenses import background as licenses_background
from charter.notifications import background as notifications_background
from charter.settings import Settings

log = logging.getLogger("charter.server")

# Optional parts register themselves by module path; each exposes `create(container) -> ASGIApp`.
GATEWAY_MODULE = "charter.gateway.app"
GATEWAY_PREFIXES = ("/v1/", "/gw/", "/mcp/", "/authz/", "/k8s/")
WEB_MODULE = "charter.web.app"


def _optional(module: str, container: Container) -> ASGIApp | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    factory: Callable[[Container], ASGIApp] = mod.create
    return factory(container)


class Dispatcher:
    """Routes by path prefix: /api/v1 → API, /v1 /gw → gateway, public endpoints, everything else → dashboard."""

    def __init__(self, container: Container, *, with_api: bool = True, with_web: bool = True) -> None:
        self.container = container
        limit = container.settings.max_body_bytes
        api = create_api(container) if with_api else None
        own = monitoring_routes.OWN_BODY_LIMIT  # large uploads the routes bound and read themselves
        uploads = (evaluation_routes.UPLOAD_SUFFIX,)  # streamed files, bounded by the route (upload_max_bytes)
        self.api = (
            BodySizeLimit(DuplicateKeys(api, own), limit, exempt_prefixes=own, exempt_suffixes=uploads) if api else None
        )
        self.public = create_public(container, with_api=with_api)
        self.gateway = _optional(GATEWAY_MODULE, container)
        self.web = BodySizeLimit(_optional(WEB_MODULE, container) or self.public, limit) if with_web else None
        self._lifespans: list[Callable[[], Awaitable[None]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if self.api is not None and (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            child = dict(scope)
            child["root_path"] = scope.get("root_path", "") + API_PREFIX
            child["path"] = path[len(API_PREFIX) :] or "/"
            if tracing.tracer() is None or scope["type"] != "http":
                await self.api(child, receive, send)
                return
            with tracing.server_span(f"{scope['method']} {API_PREFIX}", scope) as span:
                await self.api(child, receive, tracing.traced_send(send, span))
                route = getattr(child.get("route"), "path", None)  # the matched route's template, once routed
                if route:
                    span.update_name(f"{scope['method']} {API_PREFIX}{route}")
                    span.set_attribute("http.route", API_PREFIX + route)
            return
        if self.gateway is not None and (path.startswith(GATEWAY_PREFIXES) or path == "/metrics"):
            await self.gateway(scope, receive, send)
            return
        if self.public.handles(path) or self.web is None:
            await self.public(scope, receive, send)
            return
        await self.web(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        hooks = self.container.lifespan
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in hooks.startup:
                        await hook()
                except Exception as exc:  # report the failure to the server instead of hanging
                    log.error("startup failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await hooks.stop()
                self.container.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _trace(container: Container, service: str) -> None:
    """OpenTelemetry when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans flushed at shutdown."""
    if tracing.configure(service):

        async def flush() -> None:
            tracing.shutdown()

        container.lifespan.add(stop=flush)


def create_app(settings: Settings | None = None, *, with_web: bool = True) -> Dispatcher:
    """Build the container from settings (env + charter.toml) and the whole app."""
    container = build(settings or Settings())
    _trace(container, "charter")
    audit_routes.wire(container)
    licenses_background.wire(container)
    notifications_background.wire(container)
    monitoring_routes.wire(container)
    public_url_check.wire(container)
    return Dispatcher(container, with_web=with_web)


def create_gateway_app(settings: Settings | None = None) -> Dispatcher:
    """Gateway-only process (`charter gateway`): gateway plus public endpoints, no API or dashboard."""
    container = build(settings or Settings(), role="gateway")
    _trace(container, "charter-gateway")
    audit_routes.wire(container)
    monitoring_routes.wire(container, scheduler=False)
    public_url_check.wire(container)
    return Dispatcher(container, with_api=False, with_web=False)
