"""AI systems, model versions, datasets, lineage and the CycloneDX ML-BOM export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.catalog import service
from charter.catalog.schemas import (
    CycloneDxBom,
    DatasetCreate,
    DatasetRead,
    LineageEdgeRead,
    LineageLink,
    LineageRead,
    ModelRetire,
    ModelVersionCreate,
    ModelVersionRead,
    ModelVersionUpdate,
    SystemClassify,
    SystemCreate,
    SystemRead,
    SystemUpdate,
)
from charter.core.pages import Page, paginate
from charter.licenses import retire
from charter.licenses import service as licenses
from charter.licenses.schemas import ModelRetired

router = APIRouter(tags=["catalog"])

Read = Annotated[Actor, Depends(Authz(P.CATALOG_READ))]
Write = Annotated[Actor, Depends(Authz(P.CATALOG_WRITE))]


@router.post("/systems", status_code=201)
def register_system(body: SystemCreate, actor: Write, c: ContainerDep) -> SystemRead:
    """Register an AI system; tier and obligations come from the questionnaire answers."""
    with c.uow() as uow:
        return service.register_system(uow, actor, body)


@router.get("/systems")
def list_systems(
    actor: Read,
    c: ContainerDep,
    team: Annotated[str | None, Query(max_length=120)] = None,
    tier: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[SystemRead]:
    """List AI systems (optionally by team and risk tier), by name."""
    with c.uow(write=False) as uow:
        return paginate(service.list_systems(uow, actor, team=team, tier=tier), cursor, limit)


@router.get("/systems/{name}")
def show_system(name: str, actor: Read, c: ContainerDep) -> SystemRead:
    """One AI system with answers, tier reasons and explained obligations."""
    with c.uow(write=False) as uow:
        return service.show_system(uow, actor, name)


@router.patch("/systems/{name}")
def update_system(name: str, body: SystemUpdate, actor: Write, c: ContainerDep) -> SystemRead:
    """Change purpose, team, deployer, oversight, DPIA reference, log retention or access restriction."""
    with c.uow() as uow:
        return service.update_system(uow, actor, name, body)


@router.post("/systems/{name}/classify")
def classify_system(name: str, body: SystemClassify, actor: Write, c: ContainerDep) -> SystemRead:
    """Re-classify a system from new questionnaire answers."""
    with c.uow() as uow:
        return licenses.reclassify(uow, actor, name, body.answers)


@router.post("/systems/{name}/versions", status_code=201)
def register_version(name: str, body: ModelVersionCreate, actor: Write, c: ContainerDep) -> ModelVersionRead:
    """Register a model version by its artifact digest (computed by the client)."""
    with c.uow() as uow:
        return service.register_model_version(uow, actor, name, body)


@router.get("/systems/{name}/versions")
def list_versions(
    name: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[ModelVersionRead]:
    """Model versions of a system."""
    with c.uow(write=False) as uow:
        return paginate(service.list_model_versions(uow, actor, name), cursor, limit)


@router.get("/systems/{name}/versions/{version}")
def show_version(name: str, version: str, actor: Read, c: ContainerDep) -> ModelVersionRead:
    """One model version."""
    with c.uow(write=False) as uow:
        return service.show_model_version(uow, actor, f"{name}@{version}")


@router.patch("/systems/{name}/versions/{version}")
def update_version(
    name: str, version: str, body: ModelVersionUpdate, actor: Write, c: ContainerDep
) -> ModelVersionRead:
    """Change card, license, usage terms, uri, framework or format; 409 once the version is licensed."""
    with c.uow() as uow:
        return service.update_model_version(uow, actor, f"{name}@{version}", body)


@router.post("/systems/{name}/versions/{version}/retire")
def retire_version(name: str, version: str, body: ModelRetire, actor: Write, c: ContainerDep) -> ModelRetired:
    """Retire a model version for good: its licenses are revoked in the same transaction; no new license after."""
    with c.uow() as uow:
        return retire.retire(uow, actor, f"{name}@{version}", body.reason)


@router.get("/systems/{name}/versions/{version}/lineage")
def version_lineage(name: str, version: str, actor: Read, c: ContainerDep) -> LineageRead:
    """Datasets behind a model version (with upstream datasets) and its provenance verdict."""
    with c.uow(write=False) as uow:
        return service.lineage_of(uow, actor, f"{name}@{version}")


@router.get("/models")
def list_models(actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT) -> Page[ModelVersionRead]:
    """Model versions of every system the caller may read."""
    with c.uow(write=False) as uow:
        return paginate(service.list_model_versions(uow, actor), cursor, limit)


@router.post("/datasets", status_code=201)
def register_dataset(body: DatasetCreate, actor: Write, c: ContainerDep) -> DatasetRead:
    """Register a dataset version (digest, SPDX license, GDPR lawful basis, schema, upstream datasets)."""
    with c.uow() as uow:
        return service.register_dataset(uow, actor, body)


@router.get("/datasets")
def list_datasets(
    actor: Read,
    c: ContainerDep,
    name: Annotated[str | None, Query(max_length=120)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[DatasetRead]:
    """List datasets (every version)."""
    with c.uow(write=False) as uow:
        return paginate(service.list_datasets(uow, actor, name), cursor, limit)


@router.get("/datasets/{ref}")
def show_dataset(ref: str, actor: Read, c: ContainerDep) -> DatasetRead:
    """One dataset: NAME (newest version) or NAME@VERSION."""
    with c.uow(write=False) as uow:
        return service.show_dataset(uow, actor, ref)


@router.post("/lineage", status_code=201)
def link(body: LineageLink, actor: Write, c: ContainerDep) -> LineageEdgeRead:
    """Link a dataset to a model version (with a role) or to a dataset derived from it."""
    with c.uow() as uow:
        return service.link(uow, actor, body)


@router.get("/lineage/{ref}")
def lineage(ref: str, actor: Read, c: ContainerDep) -> LineageRead:
    """Lineage tree of a model version SYSTEM@VERSION."""
    with c.uow(write=False) as uow:
        return service.lineage_of(uow, actor, ref)


@router.get("/export/cyclonedx")
def export_cyclonedx(actor: Read, c: ContainerDep) -> CycloneDxBom:
    """The catalog as a CycloneDX 1.6 ML-BOM (JSON)."""
    with c.uow(write=False) as uow:
        return CycloneDxBom.model_validate(service.export_bom(uow, actor))
