"""The request pipeline every dashboard page goes through: session → actor → CSRF → view → page or error page."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from charter.auth import service as auth_service
from charter.auth import sessions as stored_sessions
from charter.auth.model import ROLE_PERMISSIONS, Actor, Permission
from charter.auth.sessions import WebSession
from charter.bootstrap import Container
from charter.core.errors import STATUS, CharterError, ErrorCode, Forbidden, Unauthenticated
from charter.storage.uow import UnitOfWork
from charter.web import sessions
from charter.web.rendering import Page, render

log = logging.getLogger("charter.web")

TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Cannot do that",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Unavailable",
}
LOOPBACK = {"localhost", "::1", "[::1]"}
MAX_FIELD = 10_000

NAV: tuple[tuple[str, str, Permission | None], ...] = (
    ("/", "Overview", None),
    ("/systems", "Systems", Permission.CATALOG_READ),
    ("/licenses", "Licenses", Permission.LICENSE_READ),
    ("/inbox", "Sign-offs", Permission.LICENSE_SIGNOFF),
    ("/monitoring", "Monitoring", Permission.MONITOR_READ),
    ("/incidents", "Incidents", Permission.MONITOR_READ),
    ("/audit", "Audit log", Permission.AUDIT_READ),
    ("/coverage", "Coverage", Permission.POLICY_READ),
)


def may(actor: Actor, permission: Permission) -> bool:
    """Whether any grant of the actor carries `permission` (for showing links; services decide for real)."""
    return any(permission in ROLE_PERMISSIONS[g.role] for g in actor.grants)


def secure_context(request: Request) -> bool:
    """Cookies are `Secure` unless the dashboard is reached over plain HTTP on a loopback address."""
    if request.url.scheme == "https":
        return True
    host = (request.url.hostname or "").lower()
    return not (host in LOOPBACK or host.startswith("127."))


def session_cookie(request: Request) -> str:
    return sessions.COOKIE_SECURE if secure_context(request) else sessions.COOKIE_PLAIN


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def safe_next(value: str | None) -> str:
    """Only same-site absolute paths may be redirect targets (no `//host`, no `/\\host`, no schemes)."""
    if not value or not value.startswith("/") or value.startswith("//") or value.startswith("/\\"):
        return "/"
    if any(ch in value for ch in "\r\n\t") or len(value) > 2000:
        return "/"
    return value


@dataclass
class Ctx:
    """What a view sees: the container, the request, the signed-in actor and the (POST) form."""

    container: Container
    request: Request
    actor: Actor
    session: WebSession
    form: dict[str, str] = field(default_factory=dict)

    def uow(self, *, write: bool = False) -> UnitOfWork:
        return self.container.uow(write=write)

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def q(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()[:500]

    def can(self, permission: Permission) -> bool:
        return may(self.actor, permission)

    @property
    def htmx(self) -> bool:
        return is_htmx(self.request)


View = Callable[[Ctx], Page | Response]


def base_data(request: Request, actor: Actor | None, session: WebSession | None) -> dict[str, Any]:
    """Variables every full page needs: who is signed in, the navigation and the CSRF token."""
    path = request.url.path
    nav = []
    if actor is not None:
        for href, label, perm in NAV:
            if perm is None or may(actor, perm):
                active = path == href if href == "/" else path == href or path.startswith(href + "/")
                nav.append({"href": href, "label": label, "active": active})
    roles = ", ".join(g.describe() for g in actor.grants) if actor else ""
    return {
        "actor": actor,
        "roles": roles,
        "csrf": session.csrf_token if session else "",
        "nav": nav,
        "path": path,
        "title": "",
    }


def html(request: Request, page: Page, actor: Actor | None, session: WebSession | None) -> Response:
    data = {**base_data(request, actor, session), **page.data}
    template = page.fragment if page.fragment and is_htmx(request) else page.template
    return HTMLResponse(render(template, data), status_code=page.status, headers=page.headers or None)


def error_response(
    request: Request, status: int, message: str, code: str, actor: Actor | None, session: WebSession | None
) -> Response:
    """A friendly error page (or, for HTMX, a fragment placed in the page's message area); never a traceback."""
    data = {"status": status, "heading": TITLES.get(status, "Error"), "message": message, "code": code}
    headers: dict[str, str] = {}
    if is_htmx(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return HTMLResponse(render("_error_flash.html", data), status_code=status, headers=headers)
    page = Page("error.html", {**data, "title": data["heading"]}, status=status)
    return html(request, page, actor, session)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def read_form(request: Request) -> dict[str, str]:
    """Text fields of a urlencoded or multipart form (files ignored), each bounded in size."""
    form = await request.form(max_files=0, max_fields=200)
    return {k: v[:MAX_FIELD] for k, v in form.multi_items() if not isinstance(v, UploadFile)}


def resolve(container: Container, token: str) -> tuple[WebSession, Actor] | None:
    """The session and its principal's current grants (role changes and disabling apply at once)."""
    with container.uow(write=False) as uow:
        session = stored_sessions.load(uow, token)
        if session is None:
            return None
        try:
            actor = auth_service.actor_by_id(uow, session.principal_id)
        except Unauthenticated:
            return None
    return session, actor


def page(container: Container, view: View) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a view: require a session, check CSRF on POST, run the view off the event loop, map errors."""

    async def endpoint(request: Request) -> Response:
        token = request.cookies.get(session_cookie(request), "")
        found = await run_in_threadpool(resolve, container, token) if token else None
        if found is None:
            return login_redirect(request)
        session, actor = found
        try:
            form: dict[str, str] = {}
            if request.method == "POST":
                form = await read_form(request)
                presented = form.get("csrf") or request.headers.get("x-csrf-token")
                if not sessions.tokens_equal(presented, session.csrf_token):
                    raise Forbidden(
                        "this form has expired or did not come from this dashboard; reload the page and try again",
                        code=ErrorCode.CSRF_FAILED,
                    )
            ctx = Ctx(container, request, actor, session, form)
            return await run_in_threadpool(_run_view, view, ctx)
        except CharterError as exc:
            return error_response(request, STATUS[exc.kind], exc.message, exc.code, actor, session)
        except Exception as exc:
            log.exception("dashboard error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            message = "an internal error occurred; the server log has the details"
            return error_response(request, 500, message, ErrorCode.INTERNAL_ERROR, actor, session)

    return endpoint


def _run_view(view: View, ctx: Ctx) -> Response:
    result = view(ctx)
    if isinstance(result, Response):
        return result
    return html(ctx.request, result, ctx.actor, ctx.session)
