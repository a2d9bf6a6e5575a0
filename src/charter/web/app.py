"""The dashboard: a Starlette app of server-rendered pages (Jinja2 + HTMX), mounted by `charter.server`.

Every page runs through `handler.page`: session cookie → current actor → CSRF on POST → the domain service call
(which authorizes exactly as the API does) → HTML, or a friendly error page with the matching status.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from charter.bootstrap import Container
from charter.core.errors import ErrorCode
from charter.web.handler import error_response, page
from charter.web.views import (
    audit,
    auth,
    catalog,
    coverage,
    deployments,
    inbox,
    incidents,
    license_forms,
    licenses,
    monitoring,
    overview,
    register,
)

# Everything the dashboard loads comes from Charter itself; no inline script, no third-party host.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the security headers to every response; pages (not static assets) are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _single_sign_on(container: Container, login: auth.Login) -> list[Route]:
    """The OIDC routes; imported only when CHARTER_OIDC_ISSUER is set (authlib is the optional `charter[oidc]`)."""
    try:
        from charter.web.views import oidc
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("authlib", "joserfc"):
            raise RuntimeError(
                "CHARTER_OIDC_ISSUER is set but authlib is not installed: pip install 'charter[oidc]'"
            ) from None
        raise
    return oidc.routes(container, login.limiter)


def create(container: Container) -> ASGIApp:
    """The dashboard ASGI app for one container."""
    login = auth.Login(container)
    sso = _single_sign_on(container, login) if container.settings.oidc_issuer else []

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {404: "there is no page at this address", 405: "this address does not accept that method"}
        return error_response(request, status, message.get(status, "request failed"), ErrorCode.HTTP_ERROR, None, None)

    routes = [
        Route("/login", login.show, methods=["GET"]),
        Route("/login", login.submit, methods=["POST"]),
        *sso,
        Route("/logout", page(container, auth.logout), methods=["POST"]),
        Route("/", page(container, overview.overview)),
        Route("/audit", page(container, audit.log_page)),
        Route("/audit/{seq}", page(container, audit.entry_page)),
        Route("/coverage", page(container, coverage.summary)),
        Route("/incidents", page(container, incidents.list_page)),
        Route("/incidents/{id}/report", page(container, incidents.report_page)),
        Route("/coverage/{framework}", page(container, coverage.framework)),
        Route("/systems", page(container, catalog.list_page)),
        Route("/systems/new", page(container, register.start), methods=["GET"]),
        Route("/systems/new", page(container, register.submit), methods=["POST"]),
        Route("/systems/{name}", page(container, catalog.detail_page)),
        Route("/assessments/{id}", page(container, catalog.assessment_page)),
        Route("/licenses", page(container, licenses.list_page)),
        Route("/licenses/new", page(container, license_forms.request_form), methods=["GET"]),
        Route("/licenses/new", page(container, license_forms.request_submit), methods=["POST"]),
        Route("/licenses/{id}", page(container, licenses.detail_page)),
        Route("/licenses/{id}/{action}", page(container, license_forms.change), methods=["POST"]),
        Route("/deployments/{name}", page(container, deployments.detail_page)),
        Route("/inbox", page(container, inbox.inbox)),
        Route("/inbox/{id}", page(container, inbox.decide), methods=["POST"]),
        Route("/inbox/approvals/{id}", page(container, inbox.decide_tool), methods=["POST"]),
        Route("/monitoring", page(container, monitoring.overview)),
        Route("/monitoring/{system}/{version}", page(container, monitoring.model_page)),
        Mount("/static", app=StaticFiles(packages=[("charter.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return SecurityHeaders(app)
