"""FastAPI application factory for the REST API."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from charter import __version__
from charter.api import links, problems, routes
from charter.bootstrap import Container

API_PREFIX = "/api/v1"


def discover_routers() -> list[APIRouter]:
    """Every module in `charter.api.routes` that defines `router` (one module per domain)."""
    found = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


def create_api(container: Container) -> FastAPI:
    """The API app, mounted by the server at /api/v1."""
    app = FastAPI(
        title="Charter API",
        version=__version__,
        description="Decide, prove and enforce which AI systems may run where.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.container = container
    problems.install(app)
    for router in discover_routers():
        app.include_router(router)
    documented = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        doc = documented()
        if first:
            links.add_links(doc)  # the document is cached on the app: edit it once, in place
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def api_routes() -> list[APIRoute]:
    """Every API route (paths relative to /api/v1), for the authorization matrix and docs."""
    return [r for router in discover_routers() for r in router.routes if isinstance(r, APIRoute)]
