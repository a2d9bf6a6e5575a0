"""Signing: license tokens from license rows, and the status list (rebuilt whenever the state version moved)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from charter.audit.tables import AuditHeadRow
from charter.core.clock import as_utc, utcnow
from charter.core.signing import SigningKey
from charter.core.wellknown import STATUS_LIST_PATH
from charter.licenses import repository, statuslist, tokens
from charter.licenses.tables import LicenseRow, StatusListRow
from charter.storage.uow import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Issuer:
    """What signs: the license key, the issuer URL (also the base of the status list URI) and the list's TTL."""

    key: SigningKey
    url: str
    ttl_s: int = 300

    @property
    def status_uri(self) -> str:
        return self.url.rstrip("/") + STATUS_LIST_PATH


def token_for(
    issuer: Issuer, row: LicenseRow, *, model_signer: str | None = None, evidence: Mapping[str, Any] | None = None
) -> str:
    """The license token of an activated license; deterministic for a given row and key (Ed25519)."""
    assert row.activated_at and row.nbf and row.exp and row.token_id and row.status_index is not None
    claims = tokens.license_claims(
        issuer=issuer.url,
        license_id=row.id,
        token_id=row.token_id,
        issued_at=row.activated_at,
        not_before=row.nbf,
        expires=row.exp,
        digest=row.digest,
        system=row.system,
        version=row.model_version,
        risk_tier=row.risk_tier,
        env=row.env,
        purposes=row.purposes,
        callers=row.callers,
        tools=row.tools,
        regions=row.regions,
        conditions_digest=row.conditions_digest,
        status_index=row.status_index,
        status_uri=issuer.status_uri,
        model_signer=model_signer,
        evidence=evidence,
        tool_rules=row.tool_rules or (),
    )
    return tokens.sign_license(issuer.key, claims)


def _build(uow: UnitOfWork, issuer: Issuer, now: datetime) -> StatusListRow:
    version = repository.state_version(uow)
    head = uow.session.get(AuditHeadRow, 1)
    doc = statuslist.claims(
        issuer=issuer.url,
        uri=issuer.status_uri,
        version=version,
        issued_at=now,
        ttl_s=issuer.ttl_s,
        values=repository.status_values(uow),
        audit_size=head.size if head is not None else None,
        audit_root=head.root.hex() if head is not None else None,
    )
    return StatusListRow(
        id=1,
        version=version,
        token=statuslist.sign(issuer.key, doc),
        issued_at=now,
        expires_at=now + timedelta(seconds=issuer.ttl_s),
        audit_size=head.size if head is not None else None,
    )


def _fresh(row: StatusListRow | None, version: int, issuer: Issuer, now: datetime) -> bool:
    """Current version, and more than half its lifetime left."""
    return (
        row is not None
        and row.version == version
        and as_utc(row.expires_at) - now > timedelta(seconds=issuer.ttl_s / 2)
        and row.issued_at <= now
    )


def current_status_list(uows: UnitOfWorkFactory, issuer: Issuer, now: datetime | None = None) -> str:
    """The signed status list for the current state version, re-signing (and storing) it when needed."""
    now = now or utcnow()
    with uows(write=False) as uow:
        version = repository.state_version(uow)
        row = uow.session.get(StatusListRow, 1)
        if _fresh(row, version, issuer, now):
            assert row is not None
            return row.token
    with uows() as uow:
        stored = uow.session.scalar(select(StatusListRow).where(StatusListRow.id == 1).with_for_update())
        version = repository.state_version(uow)
        if stored is not None and _fresh(stored, version, issuer, now):
            return stored.token
        built = _build(uow, issuer, now)
        if stored is None:
            uow.session.add(built)
        elif stored.version <= built.version:
            stored.version, stored.token = built.version, built.token
            stored.issued_at, stored.expires_at, stored.audit_size = built.issued_at, built.expires_at, built.audit_size
        uow.commit()
        return built.token
