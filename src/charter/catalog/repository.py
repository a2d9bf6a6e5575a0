"""Catalog queries. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.catalog.tables import DatasetRow, LineageEdgeRow, ModelVersionRow, SystemRow
from charter.core.errors import ErrorCode, InvalidInput, NotFound


def split_model_ref(ref: str, field: str = "model") -> tuple[str, str]:
    """`credit@1.0` → ("credit", "1.0"); anything else raises InvalidInput naming `field`."""
    system, sep, version = ref.partition("@")
    if not sep or not system or not version:
        raise InvalidInput(f"{field}: '{ref}' must be SYSTEM@VERSION (e.g. credit-scoring@1.0.0)", field=field)
    return system, version


def system_by_name(session: Session, name: str, *, lock: bool = False) -> SystemRow:
    stmt = select(SystemRow).where(SystemRow.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(
            f"no AI system named '{name}'; register it with: charter system register {name} --purpose TEXT "
            "--answers FILE",
            code=ErrorCode.SYSTEM_NOT_FOUND,
        )
    return row


def version_row(session: Session, system: SystemRow, version: str, *, lock: bool = False) -> ModelVersionRow:
    stmt = select(ModelVersionRow).where(ModelVersionRow.system_id == system.id, ModelVersionRow.version == version)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(
            f"no model version {system.name}@{version}; register it with: charter model register "
            f"{system.name}@{version} --artifact PATH",
            code=ErrorCode.MODEL_VERSION_NOT_FOUND,
        )
    return row


def model_by_ref(session: Session, ref: str, *, lock: bool = False) -> tuple[SystemRow, ModelVersionRow]:
    name, version = split_model_ref(ref)
    system = system_by_name(session, name)
    return system, version_row(session, system, version, lock=lock)


def versions_of(session: Session, system: SystemRow) -> list[ModelVersionRow]:
    stmt = select(ModelVersionRow).where(ModelVersionRow.system_id == system.id).order_by(ModelVersionRow.created_at)
    return list(session.scalars(stmt))


def dataset_by_ref(session: Session, ref: str, field: str = "dataset") -> DatasetRow:
    """`NAME@VERSION`, or `NAME` for its newest version."""
    name, sep, version = ref.partition("@")
    stmt = select(DatasetRow).where(DatasetRow.name == name)
    if sep:
        stmt = stmt.where(DatasetRow.version == version)
    row = session.scalar(stmt.order_by(DatasetRow.created_at.desc(), DatasetRow.id.desc()).limit(1))
    if row is None:
        raise NotFound(
            f"{field}: no dataset '{ref}'; register it with: charter dataset register {name} --file PATH",
            code=ErrorCode.DATASET_NOT_FOUND,
            field=field,
        )
    return row


def dataset_versions(session: Session, name: str) -> list[DatasetRow]:
    return list(session.scalars(select(DatasetRow).where(DatasetRow.name == name).order_by(DatasetRow.created_at)))


def edges_into_model(session: Session, model_id: str) -> list[LineageEdgeRow]:
    stmt = (
        select(LineageEdgeRow)
        .where(LineageEdgeRow.target_model_version_id == model_id)
        .order_by(LineageEdgeRow.created_at, LineageEdgeRow.id)
    )
    return list(session.scalars(stmt))


def edges_into_dataset(session: Session, dataset_id: str) -> list[LineageEdgeRow]:
    stmt = (
        select(LineageEdgeRow)
        .where(LineageEdgeRow.target_dataset_id == dataset_id)
        .order_by(LineageEdgeRow.created_at, LineageEdgeRow.id)
    )
    return list(session.scalars(stmt))


def dataset_ref(row: DatasetRow) -> str:
    return f"{row.name}@{row.version}"
