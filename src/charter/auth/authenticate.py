"""Who is calling: an API key or a dashboard password → an `Actor` (or 401); `whoami` describes an actor."""

from __future__ import annotations

from charter.auth import keys
from charter.auth import repository as repo
from charter.auth.model import ROLE_PERMISSIONS, Actor
from charter.auth.passwords import dummy_hash, verify_password
from charter.auth.schemas import WhoAmI
from charter.core.clock import as_utc, utcnow
from charter.core.errors import ErrorCode, Unauthenticated
from charter.storage.uow import UnitOfWork


def authenticate(uow: UnitOfWork, plaintext: str) -> Actor:
    """Resolve a presented API key to an actor, or raise 401 (unknown, revoked, expired, disabled)."""
    prefix = keys.parse_prefix(plaintext)
    row = repo.key_by_prefix(uow.session, prefix)
    if row is None or not keys.matches(plaintext, row.secret_hash):
        raise Unauthenticated("API key not recognised", code=ErrorCode.INVALID_API_KEY)
    if row.revoked_at is not None:
        raise Unauthenticated("API key has been revoked", code=ErrorCode.API_KEY_REVOKED)
    if row.expires_at is not None and as_utc(row.expires_at) <= utcnow():
        raise Unauthenticated(
            "API key has expired; create a new one: charter key create", code=ErrorCode.API_KEY_EXPIRED
        )
    principal = repo.principal_by_id(uow.session, row.principal_id)
    if principal is None or principal.disabled:
        raise Unauthenticated("principal is disabled", code=ErrorCode.PRINCIPAL_DISABLED)
    return repo.actor_for(uow.session, principal, key_id=row.id)


def authenticate_password(uow: UnitOfWork, name: str, password: str) -> Actor:
    """Dashboard login with a user name and password (Argon2id)."""
    row = repo.principal_named(uow.session, "user", name)
    stored = row.password_hash if row is not None and not row.disabled else None
    # One Argon2 verification whatever the name: an unknown one costs as much as a known one.
    matched = verify_password(stored or dummy_hash(), password)
    if row is None or stored is None or not matched:
        raise Unauthenticated("wrong user name or password", code=ErrorCode.INVALID_CREDENTIALS)
    return repo.actor_for(uow.session, row)


def actor_by_id(uow: UnitOfWork, principal_id: str) -> Actor:
    row = repo.principal_by_id(uow.session, principal_id)
    if row is None or row.disabled:
        raise Unauthenticated("principal no longer exists or is disabled", code=ErrorCode.PRINCIPAL_DISABLED)
    return repo.actor_for(uow.session, row)


def whoami(actor: Actor) -> WhoAmI:
    """The authenticated principal, its teams, roles and effective permissions."""
    perms = sorted({str(p) for g in actor.grants for p in ROLE_PERMISSIONS[g.role]})
    return WhoAmI(
        id=actor.id,
        kind=actor.kind,
        name=actor.name,
        teams=list(actor.teams),
        roles=[g.describe() for g in actor.grants],
        permissions=perms,
    )
