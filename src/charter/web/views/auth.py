"""Sign in (user name + password, or an API key), sign out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from charter.auth import keys
from charter.auth import service as auth_service
from charter.auth import sessions as stored_sessions
from charter.auth.model import Actor
from charter.bootstrap import Container
from charter.core.errors import CharterError, ErrorCode, Unauthenticated
from charter.core.events import AuditEvent
from charter.storage.uow import UnitOfWork
from charter.web import sessions
from charter.web.handler import (
    Ctx,
    base_data,
    read_form,
    resolve,
    safe_next,
    secure_context,
    session_cookie,
)
from charter.web.ratelimit import LoginLimiter
from charter.web.rendering import render

log = logging.getLogger("charter.web")


@dataclass
class LoginOutcome:
    token: str | None
    error: str = ""


class Login:
    """The /login endpoints; one limiter per process (CHARTER_LOGIN_RATE_PER_MINUTE per address and per name)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.limiter = LoginLimiter(container.settings.login_rate_per_minute)
        issuer = container.settings.oidc_issuer
        self.sso_label = (urlsplit(issuer).hostname or "your identity provider") if issuer else ""

    def _form(
        self,
        request: Request,
        *,
        error: str = "",
        status: int = 200,
        username: str = "",
        mode: str = "password",
        next_url: str | None = None,
    ) -> Response:
        """The sign-in page with a fresh double-submit CSRF token (cookie + hidden field)."""
        csrf = stored_sessions.new_token()
        data = {
            **base_data(request, None, None),
            "title": "Sign in",
            "login_csrf": csrf,
            "next": safe_next(next_url if next_url is not None else request.query_params.get("next")),
            "error": error,
            "username": username,
            "mode": mode,
            "password_login": self.container.settings.password_login,
            "sso": self.sso_label,
            # A Secure cookie over plain HTTP is dropped by the browser: say so instead of looping back here.
            "insecure": secure_context(request) and request.url.scheme != "https",
        }
        response = HTMLResponse(render("login.html", data), status_code=status)
        response.set_cookie(
            sessions.LOGIN_CSRF_COOKIE,
            csrf,
            max_age=3600,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=secure_context(request),
        )
        return response

    async def show(self, request: Request) -> Response:
        token = request.cookies.get(session_cookie(request), "")
        if token and await run_in_threadpool(resolve, self.container, token) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        return self._form(request)

    async def submit(self, request: Request) -> Response:
        form = await read_form(request)
        mode = "key" if form.get("mode") == "key" else "password"
        username = form.get("username", "").strip()[:120]
        if not sessions.tokens_equal(form.get("csrf"), request.cookies.get(sessions.LOGIN_CSRF_COOKIE)):
            return self._form(
                request,
                error="The sign-in form expired. Please try again.",
                status=403,
                username=username,
                mode=mode,
                next_url=form.get("next"),
            )
        if mode == "password" and not self.container.settings.password_login:
            return self._form(
                request,
                error="Sign-in with a password is turned off here: use single sign-on (or an API key).",
                status=403,
                mode="key",
                next_url=form.get("next"),
            )
        client = request.client.host if request.client else "unknown"
        api_key = form.get("api_key", "").strip()
        subject = f"user:{username.lower()}" if mode == "password" else f"key:{_key_prefix(api_key)}"
        wait = self.limiter.attempt(f"ip:{client}", subject)
        if wait:
            response = self._form(
                request,
                error=f"Too many sign-in attempts. Try again in {int(wait) + 1} seconds.",
                status=429,
                username=username,
                mode=mode,
                next_url=form.get("next"),
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        previous = request.cookies.get(session_cookie(request), "")
        outcome = await run_in_threadpool(
            self._authenticate, mode, username, form.get("password", ""), api_key, previous
        )
        if outcome.token is None:
            return self._form(
                request, error=outcome.error, status=401, username=username, mode=mode, next_url=form.get("next")
            )
        response = RedirectResponse(safe_next(form.get("next")), status_code=303)
        secure = secure_context(request)
        response.set_cookie(
            session_cookie(request),
            outcome.token,
            max_age=self.container.settings.session_ttl_s,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        response.delete_cookie(
            sessions.LOGIN_CSRF_COOKIE, path="/login", secure=secure, httponly=True, samesite="strict"
        )
        return response

    def _authenticate(self, mode: str, username: str, password: str, api_key: str, previous: str) -> LoginOutcome:
        """Check the credentials (in a read transaction: Argon2 is slow and must not hold the write lock), then
        replace any previous session of this browser with a new one and record the sign-in, in one transaction."""
        resource = f"user:{username}" if mode == "password" else f"key:{_key_prefix(api_key)}"
        method = "password" if mode == "password" else "api_key"
        actor: Actor | None = None
        failure: CharterError | None = None
        with self.container.uow(write=False) as uow:
            try:
                if mode == "password":
                    if not username or not password:
                        raise Unauthenticated("enter your user name and password", code=ErrorCode.INVALID_CREDENTIALS)
                    actor = auth_service.authenticate_password(uow, username, password)
                else:
                    actor = _by_key(uow, api_key)
            except CharterError as exc:
                failure = exc
        with self.container.uow() as uow:
            if actor is None:
                reason = failure.code if failure else "unknown"
                uow.record(
                    AuditEvent(
                        "anonymous",
                        "session.login",
                        resource,
                        outcome="denied",
                        details={"method": method, "reason": reason},
                        governance=False,
                    )
                )
                uow.commit()
                return LoginOutcome(None, _friendly(failure, mode) if failure else "Sign-in failed.")
            stored_sessions.end(uow, previous)
            token, _ = stored_sessions.create(uow, actor.id, self.container.settings.session_ttl_s)
            uow.record(AuditEvent(actor.ref, "session.login", actor.ref, details={"method": method}, governance=False))
            uow.commit()
        return LoginOutcome(token)


def _by_key(uow: UnitOfWork, api_key: str) -> Actor:
    if not api_key:
        raise Unauthenticated("paste an API key (chk_…)", code=ErrorCode.INVALID_API_KEY)
    actor = auth_service.authenticate(uow, api_key)
    if actor.kind != "user":
        raise Unauthenticated("app keys cannot sign in to the dashboard; use a user's key", code=ErrorCode.APP_KEY)
    return actor


def _key_prefix(api_key: str) -> str:
    try:
        return keys.parse_prefix(api_key)
    except CharterError:
        return "malformed"


def _friendly(exc: CharterError, mode: str) -> str:
    if mode == "password":
        return "Wrong user name or password." if exc.code == ErrorCode.INVALID_CREDENTIALS else exc.message
    return {
        "invalid_api_key": "That API key was not recognised.",
        "api_key_revoked": "That API key has been revoked.",
        "api_key_expired": "That API key has expired; create a new one with: charter key create",
    }.get(exc.code, exc.message[:1].upper() + exc.message[1:] + ".")


def logout(ctx: Ctx) -> Response:
    """End the session (the CSRF token was checked by the pipeline) and clear the cookie."""
    request = ctx.request
    cookie = session_cookie(request)
    with ctx.uow(write=True) as uow:
        if stored_sessions.end(uow, request.cookies.get(cookie, "")) is not None:
            uow.record(AuditEvent(ctx.actor.ref, "session.logout", ctx.actor.ref, governance=False))
        uow.commit()
    response: Response
    if ctx.htmx:
        response = Response(status_code=200, headers={"HX-Redirect": "/login"})
    else:
        response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(cookie, path="/", secure=secure_context(request), httponly=True, samesite="strict")
    return response
