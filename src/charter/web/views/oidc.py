"""Single sign-on endpoints: /login/oidc sends the browser to the OpenID Provider, /login/oidc/callback brings it back
signed in (or with a clear refusal page, audited as a denied sign-in)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from charter.auth import oidc as auth_oidc
from charter.auth import sessions as stored_sessions
from charter.bootstrap import Container
from charter.core.errors import CharterError, Conflict, ErrorCode
from charter.core.events import AuditEvent
from charter.web.handler import base_data, error_response, safe_next, secure_context, session_cookie
from charter.web.oidc import CALLBACK_PATH, Flow, Refused, RelyingParty
from charter.web.ratelimit import LoginLimiter
from charter.web.rendering import render

log = logging.getLogger("charter.web")

# Lax, not Strict: the cookie must come along when the provider sends the browser back (a cross-site navigation).
FLOW_COOKIE = "charter_oidc"
FLOW_PATH = "/login/oidc"
FLOW_TTL_S = 600


class SingleSignOn:
    def __init__(self, container: Container, party: RelyingParty, limiter: LoginLimiter) -> None:
        self.container = container
        self.party = party
        self.limiter = limiter

    async def start(self, request: Request) -> Response:
        next_url = safe_next(request.query_params.get("next"))
        try:
            url, flow = await run_in_threadpool(self.party.start, next_url)
        except Refused as exc:
            return error_response(request, exc.status, exc.message, exc.code, None, None)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            FLOW_COOKIE,
            flow.encode(),
            max_age=FLOW_TTL_S,
            path=FLOW_PATH,
            httponly=True,
            samesite="lax",
            secure=secure_context(request),
        )
        return response

    async def callback(self, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        wait = self.limiter.attempt(f"ip:{client}")
        if wait:
            response = error_response(
                request,
                429,
                f"too many sign-in attempts; try again in {int(wait) + 1} seconds",
                ErrorCode.RATE_LIMITED,
                None,
                None,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        flow = Flow.decode(request.cookies.get(FLOW_COOKIE))
        params = {k: v[:4000] for k, v in request.query_params.items()}
        previous = request.cookies.get(session_cookie(request), "")
        try:
            token = await run_in_threadpool(self._complete, params, flow, previous)
        except Refused as exc:
            response = error_response(request, exc.status, exc.message, exc.code, None, None)
        except Exception as exc:  # as every dashboard page: the friendly page, the details in the server log
            log.exception("single sign-on callback failed: %s", type(exc).__name__)
            message = "an internal error occurred; the server log has the details"
            response = error_response(request, 500, message, ErrorCode.INTERNAL_ERROR, None, None)
        else:
            target = safe_next(flow.next if flow else "/")
            # A page that moves on by itself, not a redirect: the browser leaves out a SameSite=Strict cookie on
            # every hop of a redirect chain that began at another site, so a 303 would land on the sign-in page.
            data = {**base_data(request, None, None), "title": "Signed in", "next": target}
            response = HTMLResponse(render("oidc_done.html", data))
            response.set_cookie(
                session_cookie(request),
                token,
                max_age=self.container.settings.session_ttl_s,
                path="/",
                httponly=True,
                samesite="strict",
                secure=secure_context(request),
            )
        response.delete_cookie(
            FLOW_COOKIE, path=FLOW_PATH, secure=secure_context(request), httponly=True, samesite="lax"
        )
        return response

    def _complete(self, params: dict[str, str], flow: Flow | None, previous: str) -> str:
        """Verify the callback, sign the user in (grants follow the groups) and start a session; audited either way."""
        try:
            identity = self.party.finish(params, flow)
        except Refused as exc:
            self._denied(f"oidc:{self.party.issuer}", exc.code)
            raise
        failure: CharterError | None = None
        with self.container.uow() as uow:
            try:
                actor = auth_oidc.sign_in(uow, identity, self.party.table)
            except CharterError as exc:
                uow.rollback()
                failure = exc
            except IntegrityError:  # the same person's first sign-in, twice at once: the other one won
                uow.rollback()
                failure = Conflict(
                    "another sign-in of this account was under way; sign in again", code=ErrorCode.OIDC_RETRY
                )
            else:
                if not actor.grants:
                    uow.record(
                        AuditEvent(
                            actor.ref,
                            "session.login",
                            actor.ref,
                            outcome="denied",
                            details={
                                "method": "oidc",
                                "reason": ErrorCode.OIDC_NO_ROLE,
                                "groups": list(identity.groups),
                            },
                            governance=False,
                        )
                    )
                    uow.commit()  # the revocations that left the user without a role stand
                    raise Refused(
                        403,
                        ErrorCode.OIDC_NO_ROLE,
                        f"{actor.ref} holds no Charter role: none of your groups at the identity provider maps to "
                        "one (CHARTER_OIDC_GROUPS); ask an admin",
                    )
                stored_sessions.end(uow, previous)
                token, _ = stored_sessions.create(uow, actor.id, self.container.settings.session_ttl_s)
                details = {"method": "oidc", "issuer": identity.issuer, "groups": list(identity.groups)}
                uow.record(AuditEvent(actor.ref, "session.login", actor.ref, details=details, governance=False))
                uow.commit()
                return token
        assert failure is not None
        self._denied(f"oidc:{identity.subject}", failure.code)
        statuses: dict[str, int] = {
            ErrorCode.PRINCIPAL_DISABLED: 403,
            ErrorCode.OIDC_NO_ROLE: 403,
            ErrorCode.OIDC_RETRY: 409,
        }
        status = statuses.get(failure.code, 401)
        raise Refused(status, failure.code, failure.message)

    def _denied(self, resource: str, reason: str) -> None:
        with self.container.uow() as uow:
            uow.record(
                AuditEvent(
                    "anonymous",
                    "session.login",
                    resource[:200],
                    outcome="denied",
                    details={"method": "oidc", "reason": reason},
                    governance=False,
                )
            )
            uow.commit()


def routes(container: Container, limiter: LoginLimiter) -> list[Route]:
    """/login/oidc and its callback, for the provider in the settings (a malformed group table fails here)."""
    sso = SingleSignOn(container, RelyingParty(container.settings), limiter)
    return [Route(FLOW_PATH, sso.start, methods=["GET"]), Route(CALLBACK_PATH, sso.callback, methods=["GET"])]
