"""Policy queries. Never commits."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.core.errors import InvalidInput
from charter.policies.tables import PolicyRow

HEX_PREFIX = re.compile(r"(?:sha256:)?([0-9a-f]{7,64})")
MIN_PREFIX = 7


def active_rows(session: Session) -> list[PolicyRow]:
    """Active stored policies, by name."""
    return list(session.scalars(select(PolicyRow).where(PolicyRow.active.is_(True)).order_by(PolicyRow.name)))


def active_by_name(session: Session, name: str, *, lock: bool = False) -> PolicyRow | None:
    """The active stored version of `name`, if any."""
    stmt = select(PolicyRow).where(PolicyRow.name == name, PolicyRow.active.is_(True))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def by_digest(session: Session, digest: str) -> PolicyRow | None:
    """The stored version with exactly this digest."""
    return session.scalar(select(PolicyRow).where(PolicyRow.digest == digest))


def versions_of(session: Session, name: str) -> list[PolicyRow]:
    """Every stored version of `name`, oldest first."""
    stmt = select(PolicyRow).where(PolicyRow.name == name).order_by(PolicyRow.created_at, PolicyRow.id)
    return list(session.scalars(stmt))


def all_rows(session: Session) -> list[PolicyRow]:
    """Every stored version, by name then age."""
    return list(session.scalars(select(PolicyRow).order_by(PolicyRow.name, PolicyRow.created_at, PolicyRow.id)))


def digest_prefix(ref: str) -> str | None:
    """The hex part of `ref` when it looks like a (possibly abbreviated) digest."""
    m = HEX_PREFIX.fullmatch(ref.strip().lower())
    return m.group(1) if m else None


def by_digest_prefix(session: Session, prefix: str) -> list[PolicyRow]:
    """Stored versions whose digest starts with `prefix` (at most two: enough to tell ambiguity)."""
    if len(prefix) < MIN_PREFIX:
        raise InvalidInput(f"digest prefix '{prefix}' is too short; give at least {MIN_PREFIX} hex characters")
    stmt = select(PolicyRow).where(PolicyRow.digest.startswith(prefix, autoescape=True)).limit(2)
    return list(session.scalars(stmt))
