"""CycloneDX 1.6 ML-BOM of the catalog: model versions as `machine-learning-model` components with a modelCard,
datasets as `data` components, SHA-256 hashes, lineage as dependencies."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

import charter
from charter.auth.authorize import allowed
from charter.auth.model import Actor, Permission
from charter.catalog import provenance, spdx
from charter.catalog.read_models import dataset_resource, resource_of
from charter.catalog.repository import dataset_ref, edges_into_dataset, versions_of
from charter.catalog.tables import DatasetRow, ModelVersionRow, SystemRow
from charter.core.clock import isoformat, utcnow
from charter.core.errors import InvalidInput
from charter.storage.uow import UnitOfWork

SPEC_VERSION = "1.6"


def _licenses(expr: str | None) -> list[dict[str, Any]] | None:
    if not expr:
        return None
    if " " not in expr and "(" not in expr:
        try:
            canonical = spdx.normalize(expr)
        except InvalidInput:  # a model-only id such as 'openrail': a named license
            return [{"license": {"name": expr}}]
        if canonical in spdx.license_ids():
            return [{"license": {"id": canonical}}]
        return [{"license": {"name": canonical}}]
    return [{"expression": expr}]


def _hashes(digest: str | None) -> list[dict[str, str]] | None:
    if not digest or not digest.startswith("sha256:"):
        return None
    return [{"alg": "SHA-256", "content": digest.removeprefix("sha256:")}]


def _props(pairs: list[tuple[str, Any]]) -> list[dict[str, str]]:
    out = []
    for name, value in pairs:
        if value is None or value == "":
            continue
        out.append({"name": f"charter:{name}", "value": str(value).lower() if isinstance(value, bool) else str(value)})
    return out


def _drop_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None and v != [] and v != {}}


def model_ref(system: SystemRow, version: ModelVersionRow) -> str:
    return f"model:{system.name}@{version.version}"


def _model_component(uow: UnitOfWork, system: SystemRow, version: ModelVersionRow) -> tuple[dict[str, Any], list[str]]:
    nodes = provenance.tree(uow.session, version)
    data_refs = sorted({f"dataset:{dataset_ref(n.dataset)}" for n in nodes})
    card = version.card
    task = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    params = _drop_none(
        {
            "task": task,
            "datasets": [{"ref": r} for r in data_refs] or None,
            "architectureFamily": card.get("model_type") if isinstance(card.get("model_type"), str) else None,
        }
    )
    considerations = _drop_none({"useCases": [system.purpose] if system.purpose else None})
    card_props = _props(
        [("restricted_purpose", p) for p in version.restricted_purposes]
        + [("card_field", k) for k in sorted(card) if k != "sections"]
        + [("provenance_complete", provenance.provenance(nodes).complete)]
    )
    model_card = _drop_none(
        {
            "bom-ref": f"modelcard:{system.name}@{version.version}",
            "modelParameters": params or None,
            "considerations": considerations or None,
            "properties": card_props,
        }
    )
    component = _drop_none(
        {
            "type": "machine-learning-model",
            "bom-ref": model_ref(system, version),
            "group": system.team,
            "name": system.name,
            "version": version.version,
            "description": system.purpose,
            "hashes": _hashes(version.digest),
            "licenses": _licenses(version.license),
            "modelCard": model_card,
            "externalReferences": [{"type": "distribution", "url": version.uri}] if version.uri else None,
            "properties": _props(
                [
                    ("risk_tier", system.risk_tier),
                    ("gpai", system.gpai),
                    ("annex_iii_area", system.annex_iii_area),
                    ("framework", version.framework),
                    ("format", version.format),
                    ("size_bytes", version.size_bytes),
                    ("locked", version.locked),
                    ("production_licensed", system.production_licensed),
                ]
            ),
        }
    )
    return component, data_refs


def _data_component(ds: DatasetRow) -> dict[str, Any]:
    sensitive = (["personal data"] if ds.personal_data else []) + (
        ["special-category data"] if ds.special_category else []
    )
    contents = {"url": ds.uri} if ds.uri else None
    data = _drop_none(
        {
            "type": "dataset",
            "name": ds.name,
            "contents": contents,
            "classification": "personal" if ds.personal_data else "non-personal",
            "sensitiveData": sensitive or None,
            "description": ds.source,
        }
    )
    return _drop_none(
        {
            "type": "data",
            "bom-ref": f"dataset:{dataset_ref(ds)}",
            "group": ds.team,
            "name": ds.name,
            "version": ds.version,
            "hashes": _hashes(ds.digest),
            "licenses": _licenses(ds.license),
            "data": [data],
            "properties": _props(
                [
                    ("lawful_basis", ds.lawful_basis),
                    ("consent_ref", ds.consent_ref),
                    ("retention_until", ds.retention_until.isoformat() if ds.retention_until else None),
                    ("row_count", ds.row_count),
                    ("data_format", ds.data_format),
                ]
            ),
        }
    )


def export_bom(uow: UnitOfWork, actor: Actor) -> dict[str, Any]:
    """The catalog (what the actor may read) as a CycloneDX 1.6 JSON document."""
    components: list[dict[str, Any]] = []
    dependencies: list[dict[str, Any]] = []
    for system in uow.session.scalars(select(SystemRow).order_by(SystemRow.name)):
        if not allowed(actor, Permission.CATALOG_READ, resource_of(system)):
            continue
        for version in versions_of(uow.session, system):
            component, data_refs = _model_component(uow, system, version)
            components.append(component)
            dependencies.append({"ref": component["bom-ref"], "dependsOn": data_refs})
    for ds in uow.session.scalars(select(DatasetRow).order_by(DatasetRow.name, DatasetRow.created_at)):
        if not allowed(actor, Permission.CATALOG_READ, dataset_resource(ds)):
            continue
        components.append(_data_component(ds))
        parents = sorted(
            {
                f"dataset:{dataset_ref(p)}"
                for e in edges_into_dataset(uow.session, ds.id)
                if (p := uow.session.get(DatasetRow, e.source_dataset_id))
            }
        )
        dependencies.append({"ref": f"dataset:{dataset_ref(ds)}", "dependsOn": parents})
    known = {c["bom-ref"] for c in components}
    for dep in dependencies:
        dep["dependsOn"] = [r for r in dep["dependsOn"] if r in known]
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": isoformat(utcnow()),
            "tools": {"components": [{"type": "application", "name": "charter", "version": charter.__version__}]},
        },
        "components": components,
        "dependencies": dependencies,
    }
