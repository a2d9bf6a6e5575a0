"""Rows → read schemas, and the authorization resources of catalog objects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.auth.model import Resource
from charter.catalog import controls
from charter.catalog.repository import dataset_ref
from charter.catalog.schemas import DatasetRead, ModelVersionRead, ObligationRead, SystemRead
from charter.catalog.tables import DatasetRow, LineageEdgeRow, ModelVersionRow, SystemRow


def resource_of(row: SystemRow) -> Resource:
    """The system as the authorizer sees it; `production` makes catalog writes need senior-engineer."""
    return Resource(kind="system", name=row.name, team=row.team, system=row.name, production=row.production_licensed)


def dataset_resource(row: DatasetRow) -> Resource:
    return Resource(kind="dataset", name=dataset_ref(row), team=row.team)


def _legal(obligation: dict[str, Any]) -> dict[str, Any]:
    """A stored obligation with its control's legal status (classifications stored before it was recorded)."""
    if obligation.get("legal_status"):
        return obligation
    control = controls.by_id().get(str(obligation.get("id")))
    return {**obligation, **control.legal.to_dict()} if control is not None else obligation


def system_read(row: SystemRow) -> SystemRead:
    explained = [_legal(o) for o in row.classification.get("obligations", [])]
    return SystemRead(
        id=row.id,
        name=row.name,
        team=row.team,
        purpose=row.purpose,
        deployer=row.deployer,
        risk_tier=row.risk_tier,
        is_prohibited=row.risk_tier == "prohibited",
        gpai=row.gpai,
        gpai_systemic=row.gpai_systemic,
        annex_iii_area=row.annex_iii_area,
        personal_data=row.personal_data,
        special_category_data=row.special_category_data,
        human_oversight=row.human_oversight,
        dpia_reference=row.dpia_reference,
        log_retention_days=row.log_retention_days,
        access_restricted=row.access_restricted,
        production_licensed=row.production_licensed,
        obligations=list(row.obligations),
        tier_reasons=list(row.classification.get("reasons", [])),
        obligations_explained=[ObligationRead(**o) for o in explained],
        answers=dict(row.answers),
        thresholds=dict(row.thresholds or {}),
        revision=row.revision,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def version_read(system: SystemRow, row: ModelVersionRow) -> ModelVersionRead:
    return ModelVersionRead(
        id=row.id,
        system=system.name,
        version=row.version,
        ref=f"{system.name}@{row.version}",
        digest=row.digest,
        size_bytes=row.size_bytes,
        files=list(row.files),
        uri=row.uri,
        framework=row.framework,
        format=row.format,
        card=dict(row.card),
        license=row.license,
        restricted_purposes=list(row.restricted_purposes),
        usage_terms=dict(row.usage_terms),
        locked=row.locked,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        retired_at=row.retired_at,
        retired_by=row.retired_by,
        retire_reason=row.retire_reason,
        signature=dict(row.signature) if row.signature else None,
    )


def dataset_read(session: Session, row: DatasetRow) -> DatasetRead:
    upstream = session.scalars(
        select(DatasetRow)
        .join(LineageEdgeRow, LineageEdgeRow.source_dataset_id == DatasetRow.id)
        .where(LineageEdgeRow.target_dataset_id == row.id)
        .order_by(DatasetRow.name, DatasetRow.version)
    )
    return DatasetRead(
        id=row.id,
        name=row.name,
        version=row.version,
        ref=dataset_ref(row),
        team=row.team,
        digest=row.digest,
        size_bytes=row.size_bytes,
        uri=row.uri,
        source=row.source,
        license=row.license,
        lawful_basis=row.lawful_basis,
        personal_data=row.personal_data,
        special_category=row.special_category,
        consent_ref=row.consent_ref,
        retention_until=row.retention_until,
        data_format=row.data_format,
        schema_=row.schema,
        row_count=row.row_count,
        derived_from=[dataset_ref(u) for u in upstream],
        created_by=row.created_by,
        created_at=row.created_at,
    )
