"""Annotated dependencies: the container, and the authenticated actor with a route's required permission."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from charter.audit.service import AuditLog
from charter.auth import service as auth_service
from charter.auth.authorize import authorize_any
from charter.auth.model import Actor, Permission
from charter.bootstrap import Container
from charter.core.errors import ErrorCode, Unauthenticated


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_audit_log(c: ContainerDep) -> AuditLog:
    """The process's audit log service (built by `bootstrap.build`)."""
    return c.audit_log


AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]


def authenticate(request: Request) -> Actor:
    """Resolve `Authorization: Bearer <key>` (or a dashboard session set by the web layer) to an actor."""
    cached = getattr(request.state, "actor", None)
    if isinstance(cached, Actor):
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "missing API key: send 'Authorization: Bearer <key>' (create one with: charter key create)",
            code=ErrorCode.MISSING_API_KEY,
        )
    container = get_container(request)
    with container.uow(write=False) as uow:
        actor = auth_service.authenticate(uow, token.strip())
    request.state.actor = actor
    return actor


class Authz:
    """Route dependency: authenticate, then require `permission` in at least one scope (None: any principal).

    The service layer repeats the scoped `authorize()` check on the concrete resource; this early check makes
    every route answer 401/403 before it parses a body, and lets tests enumerate each route's rule.
    """

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    def __call__(self, request: Request) -> Actor:
        actor = authenticate(request)
        if self.permission is not None:
            authorize_any(actor, self.permission)
        return actor
