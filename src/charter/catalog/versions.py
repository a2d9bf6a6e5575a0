"""Model version use cases: register (digest computed by the client, checked against its file list), update
while unlocked, lock once licensed, list, show."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from charter.auth.authorize import allowed, authorize
from charter.auth.model import Actor, Permission
from charter.catalog import signatures, spdx
from charter.catalog.artifacts import tree_digest
from charter.catalog.formats import detect
from charter.catalog.read_models import resource_of, version_read
from charter.catalog.repository import model_by_ref, system_by_name, versions_of
from charter.catalog.schemas import PURPOSE_PATTERN, FileIn, ModelVersionCreate, ModelVersionRead, ModelVersionUpdate
from charter.catalog.tables import ModelVersionRow, SystemRow
from charter.catalog.terms import KNOWN_MODEL_LICENSES, terms_for
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.storage.uow import UnitOfWork

_PURPOSE = re.compile(PURPOSE_PATTERN)
EXTRA_LICENSES = tuple(KNOWN_MODEL_LICENSES)


def normalize_digest(value: str) -> str:
    """`<hex>` or `sha256:<hex>` → `sha256:<hex>`."""
    return value if value.startswith("sha256:") else f"sha256:{value}"


def _check_files(digest: str, size: int, files: list[FileIn]) -> None:
    if not files:
        return
    hexdigest = digest.removeprefix("sha256:")
    single = len(files) == 1 and files[0].sha256 == hexdigest
    if not single and tree_digest([(f.path, f.sha256) for f in files]) != hexdigest:
        raise InvalidInput(
            f"digest: {digest} matches neither the single file listed nor the tree of the {len(files)} files listed; "
            "recompute it with: charter model register SYSTEM@VERSION --artifact PATH",
            code=ErrorCode.DIGEST_MISMATCH,
            field="digest",
        )
    total = sum(f.size for f in files)
    if total != size:
        raise InvalidInput(
            f"size_bytes: {size} differs from the {total} bytes of the files listed",
            code=ErrorCode.SIZE_MISMATCH,
            field="size_bytes",
        )


def _license(value: str | None, card: dict[str, Any]) -> str | None:
    if value:
        return spdx.normalize(value, field="license", extra=EXTRA_LICENSES)
    from_card = card.get("license")
    if isinstance(from_card, str) and from_card.strip():
        return spdx.normalize(from_card, field="card.license", extra=EXTRA_LICENSES)
    return None


def _purposes(values: list[str], field: str = "restricted_purposes") -> list[str]:
    for i, value in enumerate(values):
        if not _PURPOSE.match(value):
            raise InvalidInput(
                f"{field}[{i}]: '{value}' must be a lowercase purpose slug such as 'medical-advice'", field=field
            )
    return values


def _terms(license_expr: str | None, explicit: list[str]) -> tuple[list[str], dict[str, Any]]:
    terms = terms_for(license_expr)
    restricted = sorted(set(terms.restricted_purposes) | set(_purposes(explicit)))
    return restricted, {**terms.to_dict(), "explicit": sorted(set(explicit))}


def register_model_version(
    uow: UnitOfWork, actor: Actor, system_name: str, data: ModelVersionCreate
) -> ModelVersionRead:
    """Record a model version of a system by its artifact digest (`sha256:<hex>`), card and usage terms."""
    system = system_by_name(uow.session, system_name)
    authorize(actor, Permission.CATALOG_WRITE, resource_of(system))
    digest = normalize_digest(data.digest)
    _check_files(digest, data.size_bytes, data.files)
    ref = f"{system.name}@{data.version}"
    exists = select(ModelVersionRow.id).where(
        ModelVersionRow.system_id == system.id, ModelVersionRow.version == data.version
    )
    if uow.session.scalar(exists) is not None:
        raise Conflict(
            f"model version {ref} already exists; versions are immutable",
            code=ErrorCode.MODEL_VERSION_EXISTS,
            field="version",
        )
    license_expr = _license(data.license, data.card)
    restricted, usage = _terms(license_expr, data.restricted_purposes)
    signature = None
    if data.signature is not None:
        signature = signatures.verify(
            data.signature.bundle, data.signature.public_key, [(f.path, f.sha256) for f in data.files]
        ).to_dict()
        signature["verified_at"] = utcnow().isoformat()
    detected_format, detected_framework = detect((f.path, f.size) for f in data.files)
    library = data.card.get("library_name")
    framework = data.framework or (library if isinstance(library, str) else None) or detected_framework
    now = utcnow()
    row = ModelVersionRow(
        id=new_id("mv"),
        system_id=system.id,
        version=data.version,
        digest=digest,
        size_bytes=data.size_bytes,
        files=[f.model_dump() for f in data.files],
        uri=data.uri,
        framework=framework,
        format=data.format or detected_format,
        card=data.card,
        license=license_expr,
        restricted_purposes=restricted,
        usage_terms=usage,
        locked=False,
        signature=signature,
        created_by=actor.ref,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    try:
        uow.session.flush()
    except IntegrityError:
        raise Conflict(
            f"model version {ref} already exists", code=ErrorCode.MODEL_VERSION_EXISTS, field="version"
        ) from None
    uow.record(
        AuditEvent(
            actor.ref,
            "model.register",
            f"model:{ref}",
            details={
                "digest": digest,
                "size_bytes": data.size_bytes,
                "files": len(data.files),
                "uri": data.uri,
                "framework": row.framework,
                "format": row.format,
                "license": license_expr,
                "restricted_purposes": restricted,
                "card_keys": sorted(data.card),
                "signature": signature,
            },
        )
    )
    out = version_read(system, row)
    uow.commit()
    return out


def locked_error(ref: str) -> Conflict:
    return Conflict(
        f"model version {ref} is licensed and immutable; register a new version instead "
        f"(charter model register {ref.split('@')[0]}@NEW_VERSION --artifact PATH)",
        code=ErrorCode.MODEL_VERSION_LOCKED,
    )


def update_model_version(uow: UnitOfWork, actor: Actor, ref: str, data: ModelVersionUpdate) -> ModelVersionRead:
    """Change card, license, usage terms, uri, framework or format of a version that is not yet licensed."""
    system, row = model_by_ref(uow.session, ref, lock=True)
    authorize(actor, Permission.CATALOG_WRITE, resource_of(system))
    if row.locked:
        raise locked_error(f"{system.name}@{row.version}")
    changes: dict[str, list[Any]] = {}
    for field in ("uri", "framework", "format", "card"):
        if field in data.model_fields_set and getattr(data, field) != getattr(row, field):
            changes[field] = [getattr(row, field), getattr(data, field)]
    card = data.card if "card" in data.model_fields_set else row.card
    if "license" in data.model_fields_set or "restricted_purposes" in data.model_fields_set or "card" in changes:
        license_expr = _license(data.license, card) if "license" in data.model_fields_set else row.license
        explicit = (
            data.restricted_purposes if data.restricted_purposes is not None else row.usage_terms.get("explicit", [])
        )
        restricted, usage = _terms(license_expr, list(explicit))
        if license_expr != row.license:
            changes["license"] = [row.license, license_expr]
        if restricted != row.restricted_purposes:
            changes["restricted_purposes"] = [row.restricted_purposes, restricted]
        row.usage_terms = usage
    if changes:
        for field, (_, new) in changes.items():
            setattr(row, field, new)
        row.updated_at = utcnow()
        audit = {k: v for k, v in changes.items() if k != "card"}
        if "card" in changes:
            audit["card_keys"] = [sorted(changes["card"][0] or {}), sorted(changes["card"][1] or {})]
        uow.record(
            AuditEvent(actor.ref, "model.update", f"model:{system.name}@{row.version}", details={"changes": audit})
        )
        uow.session.flush()
    out = version_read(system, row)
    uow.commit()
    return out


def retired_error(ref: str, when: object) -> Conflict:
    return Conflict(
        f"model version {ref} was retired at {when}; register a new version to license it again",
        code=ErrorCode.MODEL_RETIRED,
    )


def mark_retired(uow: UnitOfWork, actor: Actor, ref: str, reason: str) -> ModelVersionRead:
    """Retire a version (the licenses use case revokes its licenses in the same transaction). Does not commit."""
    system, row = model_by_ref(uow.session, ref, lock=True)
    authorize(actor, Permission.CATALOG_WRITE, resource_of(system))
    if row.retired_at is not None:
        raise retired_error(f"{system.name}@{row.version}", row.retired_at)
    row.retired_at = row.updated_at = utcnow()
    row.retired_by = actor.ref
    row.retire_reason = reason
    uow.session.flush()
    return version_read(system, row)


def lock_version(uow: UnitOfWork, ref: str, actor_ref: str) -> ModelVersionRead:
    """Mark a version immutable (licenses call this on activation, in their transaction). Does not commit."""
    system, row = model_by_ref(uow.session, ref, lock=True)
    if not row.locked:
        row.locked = True
        row.updated_at = utcnow()
        uow.record(
            AuditEvent(actor_ref, "model.lock", f"model:{system.name}@{row.version}", details={"digest": row.digest})
        )
        uow.session.flush()
    return version_read(system, row)


def show_model_version(uow: UnitOfWork, actor: Actor, ref: str) -> ModelVersionRead:
    system, row = model_by_ref(uow.session, ref)
    authorize(actor, Permission.CATALOG_READ, resource_of(system))
    return version_read(system, row)


def list_model_versions(uow: UnitOfWork, actor: Actor, system_name: str | None = None) -> list[ModelVersionRead]:
    """Versions of one system, or of every system the actor may read."""
    if system_name is not None:
        system = system_by_name(uow.session, system_name)
        authorize(actor, Permission.CATALOG_READ, resource_of(system))
        return [version_read(system, v) for v in versions_of(uow.session, system)]
    out: list[ModelVersionRead] = []
    for system in uow.session.scalars(select(SystemRow).order_by(SystemRow.name)):
        if allowed(actor, Permission.CATALOG_READ, resource_of(system)):
            out.extend(version_read(system, v) for v in versions_of(uow.session, system))
    return out


def digests_by_image(uow: UnitOfWork, images: Sequence[str]) -> dict[str, str]:
    """OCI image references (`REPO@sha256:…`) → the digest of the model version registered with that image as its
    URI (`oci://REPO@sha256:…` or the bare reference); references no version names are left out."""
    wanted = {f"oci://{i}": i for i in images} | {i: i for i in images}
    if not wanted:
        return {}
    rows = uow.session.execute(
        select(ModelVersionRow.uri, ModelVersionRow.digest).where(ModelVersionRow.uri.in_(list(wanted)))
    )
    return {wanted[uri]: digest for uri, digest in rows if uri in wanted}
