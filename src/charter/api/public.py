"""Endpoints anyone may call without a key: health, readiness, verification material, dashboard shell."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from charter import __version__
from charter.api.routes.licenses import register_public as licenses_public
from charter.audit import keyset
from charter.bootstrap import Container
from charter.core.errors import ErrorCode
from charter.core.keybundle import KeysMismatch
from charter.storage import migrate

PUBLIC_PATHS = ("/healthz", "/readyz", "/.well-known/")

SHELL = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Charter</title></head>
<body><h1>Charter</h1><p>AI governance licensing. API: <a href="/api/v1/docs">/api/v1/docs</a></p></body></html>"""


class Public:
    """A small Starlette app; domains add routes with `add(path, endpoint)` at build time."""

    def __init__(self, container: Container, *, with_api: bool) -> None:
        self.container = container
        self.with_api = with_api
        self.prefixes: list[str] = list(PUBLIC_PATHS)
        self.app = Starlette(
            routes=[
                Route("/healthz", self.healthz),
                Route("/readyz", self.readyz),
                Route("/", self.shell),
            ]
        )
        for path, endpoint in container.public_routes:
            self.add(path, endpoint)
        licenses_public(self)

    def add(self, path: str, endpoint: Callable[[Request], object], methods: list[str] | None = None) -> None:
        self.app.router.routes.append(Route(path, endpoint, methods=methods or ["GET"]))
        self.prefixes.append(path)

    def handles(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def healthz(self, _: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(self, _: Request) -> Response:
        try:
            with self.container.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            todo = migrate.pending(self.container.engine)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        if todo:
            return JSONResponse({"status": "unavailable", "reason": "migrations pending", "pending": todo}, 503)
        unable = self._cannot_audit()
        if unable is not None:
            return JSONResponse({"status": "unavailable", **unable}, 503)
        return JSONResponse({"status": "ready", "database": self.container.engine.dialect.name})

    def _cannot_audit(self) -> dict[str, str] | None:
        """Why this process cannot write verifiable entries or sign checkpoints (None: it can)."""
        c = self.container
        try:
            keyset.check(c.uow, c.keys, str(c.settings.keys_dir))
        except KeysMismatch as exc:
            return {"reason": "keys differ from the deployment's key set", "code": exc.code, "detail": exc.message}
        refused = c.audit_log.checkpointer.refused
        if refused is not None:
            return {
                "reason": "audit checkpoints refused",
                "code": ErrorCode.CHECKPOINT_REFUSED,
                "detail": f"{refused}; run `charter audit verify`",
            }
        return None

    async def shell(self, _: Request) -> Response:
        return HTMLResponse(SHELL)


def create_public(container: Container, *, with_api: bool = True) -> Public:
    return Public(container, with_api=with_api)
