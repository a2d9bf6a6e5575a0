"""Dashboard sessions as stored: a random cookie token whose SHA-256 is the key of a `web_sessions` row."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from charter.auth.tables import WebSessionRow
from charter.core.clock import as_utc, utcnow
from charter.storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class WebSession:
    """A live dashboard session."""

    id_hash: str
    principal_id: str
    csrf_token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """The stored form of a session token: a leaked table does not yield usable cookies."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def create(uow: UnitOfWork, principal_id: str, ttl_s: int) -> tuple[str, WebSession]:
    """Start a session for a principal (the caller commits); returns the cookie token and the session.

    Only the browser ever holds the token; the table keeps its hash.
    """
    now = utcnow()
    uow.session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
    token = new_token()
    row = WebSessionRow(
        id_hash=token_hash(token),
        principal_id=principal_id,
        csrf_token=new_token(),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    uow.session.add(row)
    uow.session.flush()
    return token, _read(row)


def load(uow: UnitOfWork, token: str) -> WebSession | None:
    """The live session for a cookie token, or None when unknown or expired."""
    if not token or len(token) > 200:
        return None
    row = uow.session.get(WebSessionRow, token_hash(token))
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return _read(row)


def end(uow: UnitOfWork, token: str) -> str | None:
    """Delete the session for a cookie token (the caller commits); returns its principal id when there was one."""
    row = uow.session.get(WebSessionRow, token_hash(token)) if token else None
    if row is None:
        return None
    principal = row.principal_id
    uow.session.delete(row)
    uow.session.flush()
    return principal


def _read(row: WebSessionRow) -> WebSession:
    return WebSession(
        id_hash=row.id_hash,
        principal_id=row.principal_id,
        csrf_token=row.csrf_token,
        expires_at=as_utc(row.expires_at),
    )
