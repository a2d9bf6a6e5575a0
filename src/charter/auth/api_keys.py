"""API keys of principals: create (shown once, always expiring), list (never the secrets), revoke.

The key material itself (`chk_<prefix>_<secret>`, its digest) is `charter.auth.keys`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from charter.auth import keys
from charter.auth import repository as repo
from charter.auth.authorize import allowed, authorize
from charter.auth.model import PRINCIPALS, Actor, Permission
from charter.auth.schemas import KeyCreate, KeyCreated, KeyRead
from charter.auth.tables import ApiKeyRow, PrincipalRow
from charter.core.clock import isoformat, utcnow
from charter.core.errors import ErrorCode, Forbidden, InvalidInput, NotFound
from charter.core.events import AuditEvent
from charter.settings import KEY_MAX_DAYS_DEFAULT
from charter.storage.uow import UnitOfWork


def key_read(row: ApiKeyRow, principal: str) -> KeyRead:
    return KeyRead(
        id=row.id,
        prefix=row.prefix,
        principal=principal,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def insert_key(uow: UnitOfWork, principal: PrincipalRow, name: str | None, days: int | None) -> KeyCreated:
    """A new key for `principal` in this transaction (no authorization, no audit: the caller's use case does both)."""
    new = keys.generate()
    now = utcnow()
    row = repo.add_key(
        uow.session,
        principal.id,
        prefix=new.prefix,
        secret_hash=new.secret_hash,
        name=name,
        created_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    return KeyCreated(**key_read(row, repo.ref_of(principal)).model_dump(), key=new.plaintext)


def create_key(uow: UnitOfWork, actor: Actor, data: KeyCreate, *, max_days: int = KEY_MAX_DAYS_DEFAULT) -> KeyCreated:
    """Create an API key for a principal: users for themselves, `principal.manage` holders for anyone; apps never
    (a stolen app key must not mint another that outlives its revocation). Every key expires within `max_days`
    (CHARTER_KEY_MAX_DAYS): no expiry asked means that one, a longer one is refused."""
    if actor.kind == "app":
        raise Forbidden(
            f"{actor.ref} may not create API keys: an app's keys are created by an admin "
            f"(charter key create {actor.ref})",
            code=ErrorCode.APP_CANNOT_CREATE_KEYS,
        )
    principal = repo.principal_by_ref(uow.session, data.principal)
    if principal.id != actor.id:
        authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    days = data.expires_in_days
    if days is None:
        days = max_days
    elif days > max_days:
        raise InvalidInput(
            f"expires_in_days: {days} is longer than the longest allowed key lifetime, {max_days} days "
            "(CHARTER_KEY_MAX_DAYS); ask for fewer days",
            code=ErrorCode.KEY_LIFETIME_TOO_LONG,
            field="expires_in_days",
            details={"max_days": max_days},
        )
    out = insert_key(uow, principal, data.name, days)
    uow.record(
        AuditEvent(
            actor.ref,
            "key.create",
            f"key:{out.id}",
            details={"principal": out.principal, "prefix": out.prefix, "expires_at": _iso(out.expires_at)},
        )
    )
    uow.commit()
    return out


def _iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def list_keys(uow: UnitOfWork, actor: Actor, principal: str | None = None) -> list[KeyRead]:
    """List API keys (never the secrets): your own, or anyone's with principal.read."""
    owner_id: str | None = None
    if principal is not None:
        row = repo.principal_by_ref(uow.session, principal)
        owner_id = row.id
        if row.id != actor.id:
            authorize(actor, Permission.PRINCIPAL_READ, PRINCIPALS)
    elif not allowed(actor, Permission.PRINCIPAL_READ, PRINCIPALS):
        owner_id = actor.id
    return [key_read(k, repo.ref_of(p)) for k, p in repo.keys_with_owners(uow.session, owner_id)]


def revoke_key(uow: UnitOfWork, actor: Actor, key_id: str) -> KeyRead:
    """Revoke an API key; it stops working at once."""
    row = repo.key_by_id(uow.session, key_id)
    if row is None:
        raise NotFound(f"no API key with id '{key_id}' (see: charter key list)", code=ErrorCode.KEY_NOT_FOUND)
    if row.principal_id != actor.id:
        authorize(actor, Permission.PRINCIPAL_MANAGE, PRINCIPALS)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        uow.record(AuditEvent(actor.ref, "key.revoke", f"key:{row.id}", details={"prefix": row.prefix}))
    owner = repo.principal_by_id(uow.session, row.principal_id)
    assert owner is not None
    out = key_read(row, repo.ref_of(owner))
    uow.commit()
    return out
