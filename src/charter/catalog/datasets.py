"""Dataset and lineage use cases: register datasets (SPDX license, GDPR basis), link lineage, show trees."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from charter.auth.authorize import allowed, authorize
from charter.auth.model import Actor, Permission, Resource
from charter.auth.repository import team_by_name
from charter.catalog import provenance, spdx
from charter.catalog.read_models import dataset_read, dataset_resource, resource_of
from charter.catalog.repository import (
    dataset_by_ref,
    dataset_ref,
    dataset_versions,
    edges_into_dataset,
    model_by_ref,
)
from charter.catalog.schemas import DatasetCreate, DatasetRead, LineageEdgeRead, LineageLink, LineageRead
from charter.catalog.tables import DatasetRow, LineageEdgeRow
from charter.catalog.versions import locked_error, normalize_digest
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.storage.uow import UnitOfWork


def _next_version(existing: list[DatasetRow]) -> str:
    numbers = [int(d.version) for d in existing if d.version.isdigit()]
    return str(max(numbers, default=0) + 1)


def _edge(uow: UnitOfWork, actor: Actor, source: DatasetRow, role: str, **target: str) -> LineageEdgeRow:
    row = LineageEdgeRow(
        id=new_id("lin"), source_dataset_id=source.id, role=role, created_by=actor.ref, created_at=utcnow(), **target
    )
    uow.session.add(row)
    return row


def register_dataset(uow: UnitOfWork, actor: Actor, data: DatasetCreate) -> DatasetRead:
    """Register a dataset version (digest, license, GDPR fields, schema) and its `derived_from` edges."""
    authorize(actor, Permission.CATALOG_WRITE, Resource("dataset", data.name, team=data.team))
    if data.team:
        team_by_name(uow.session, data.team)
    license_expr = spdx.normalize(data.license, field="license") if data.license else None
    digest = normalize_digest(data.digest) if data.digest else None
    existing = dataset_versions(uow.session, data.name)
    version = data.version or _next_version(existing)
    for other in existing:
        if other.version == version:
            raise Conflict(
                f"dataset {data.name}@{version} already exists", code=ErrorCode.DATASET_EXISTS, field="version"
            )
        if data.version is None and digest and other.digest == digest:
            raise Conflict(
                f"dataset {dataset_ref(other)} already has digest {digest}; give --version to register it again",
                code=ErrorCode.DATASET_EXISTS,
                field="digest",
            )
    upstream = [dataset_by_ref(uow.session, ref, field="derived_from") for ref in data.derived_from]
    row = DatasetRow(
        id=new_id("ds"),
        name=data.name,
        version=version,
        team=data.team,
        digest=digest,
        size_bytes=data.size_bytes,
        uri=data.uri,
        source=data.source,
        license=license_expr,
        lawful_basis=data.lawful_basis.value if data.lawful_basis else None,
        personal_data=data.personal_data,
        special_category=data.special_category,
        consent_ref=data.consent_ref,
        retention_until=data.retention_until,
        data_format=data.data_format,
        schema=data.schema_,
        row_count=data.row_count,
        created_by=actor.ref,
        created_at=utcnow(),
    )
    uow.session.add(row)
    try:
        uow.session.flush()
    except IntegrityError:
        raise Conflict(
            f"dataset {data.name}@{version} already exists", code=ErrorCode.DATASET_EXISTS, field="version"
        ) from None
    for parent in upstream:
        _edge(uow, actor, parent, "derived", target_dataset_id=row.id)
    details = data.model_dump(mode="json", by_alias=True, exclude={"name", "version", "schema_", "schema"})
    details.update(
        license=license_expr,
        digest=digest,
        columns=len(data.schema_ or []),
        derived_from=[dataset_ref(p) for p in upstream],
    )
    uow.record(AuditEvent(actor.ref, "dataset.register", f"dataset:{dataset_ref(row)}", details=details))
    uow.session.flush()
    out = dataset_read(uow.session, row)
    uow.commit()
    return out


def _is_upstream(uow: UnitOfWork, candidate_id: str, of: DatasetRow) -> bool:
    """True when `candidate_id` is `of` or any dataset `of` was derived from."""
    stack, seen = [of.id], set()
    while stack:
        current = stack.pop()
        if current == candidate_id:
            return True
        if current in seen:
            continue
        seen.add(current)
        stack.extend(e.source_dataset_id for e in edges_into_dataset(uow.session, current))
    return False


def link(uow: UnitOfWork, actor: Actor, data: LineageLink) -> LineageEdgeRead:
    """Add a lineage edge: dataset → model version (with a role) or dataset → derived dataset."""
    source = dataset_by_ref(uow.session, data.dataset, field="dataset")
    if data.model is not None:
        system, version = model_by_ref(uow.session, data.model, lock=True)
        authorize(actor, Permission.CATALOG_WRITE, resource_of(system))
        target_ref, kind = f"{system.name}@{version.version}", "model"
        if version.locked:
            raise locked_error(target_ref)
        assert data.role is not None
        role = data.role.value
        duplicate = select(LineageEdgeRow.id).where(
            LineageEdgeRow.source_dataset_id == source.id,
            LineageEdgeRow.target_model_version_id == version.id,
            LineageEdgeRow.role == role,
        )
        target = {"target_model_version_id": version.id}
    else:
        assert data.derived is not None
        derived = dataset_by_ref(uow.session, data.derived, field="derived")
        authorize(actor, Permission.CATALOG_WRITE, dataset_resource(derived))
        target_ref, kind, role = dataset_ref(derived), "dataset", "derived"
        if _is_upstream(uow, derived.id, source):
            raise InvalidInput(
                f"derived: linking {dataset_ref(source)} → {target_ref} would make a lineage cycle",
                code=ErrorCode.LINEAGE_CYCLE,
                field="derived",
            )
        duplicate = select(LineageEdgeRow.id).where(
            LineageEdgeRow.source_dataset_id == source.id, LineageEdgeRow.target_dataset_id == derived.id
        )
        target = {"target_dataset_id": derived.id}
    if uow.session.scalar(duplicate) is not None:
        raise Conflict(
            f"{dataset_ref(source)} is already linked to {target_ref} as {role}",
            code=ErrorCode.LINEAGE_EXISTS,
            field="dataset",
        )
    row = _edge(uow, actor, source, role, **target)
    uow.session.flush()
    uow.record(
        AuditEvent(
            actor.ref,
            "lineage.link",
            f"{kind}:{target_ref}",
            details={"dataset": dataset_ref(source), "target": target_ref, "role": role, "edge": row.id},
        )
    )
    out = LineageEdgeRead(
        id=row.id,
        source=dataset_ref(source),
        target=target_ref,
        target_kind=kind,
        role=role,
        created_by=row.created_by,
        created_at=row.created_at,
    )
    uow.commit()
    return out


def lineage_of(uow: UnitOfWork, actor: Actor, ref: str) -> LineageRead:
    """The lineage tree of a model version and its provenance verdict."""
    system, version = model_by_ref(uow.session, ref)
    authorize(actor, Permission.CATALOG_READ, resource_of(system))
    nodes = provenance.tree(uow.session, version)
    return LineageRead(
        model=f"{system.name}@{version.version}",
        digest=version.digest,
        format=version.format,
        datasets=provenance.to_schema(nodes),
        provenance=provenance.provenance(nodes),
    )


def show_dataset(uow: UnitOfWork, actor: Actor, ref: str) -> DatasetRead:
    row = dataset_by_ref(uow.session, ref)
    authorize(actor, Permission.CATALOG_READ, dataset_resource(row))
    return dataset_read(uow.session, row)


def list_datasets(uow: UnitOfWork, actor: Actor, name: str | None = None) -> list[DatasetRead]:
    """Datasets (every version) the actor may read."""
    stmt = select(DatasetRow).order_by(DatasetRow.name, DatasetRow.created_at)
    if name:
        stmt = stmt.where(DatasetRow.name == name)
    rows = list(uow.session.scalars(stmt))
    return [dataset_read(uow.session, r) for r in rows if allowed(actor, Permission.CATALOG_READ, dataset_resource(r))]
