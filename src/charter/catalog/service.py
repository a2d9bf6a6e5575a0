"""Catalog use cases, and the interface other domains rely on (docs/dev/INTERFACES.md § Catalog).

Entry points (API, CLI) call the actor-taking use cases re-exported here. Licenses, evaluation and policies call
the interface functions below inside their own unit of work; those do not authorize (the caller has) and do not
commit (the caller's transaction does).
"""

from __future__ import annotations

from typing import Any

from charter.auth.model import SYSTEM_ACTOR, Actor, Resource
from charter.catalog import provenance
from charter.catalog.cyclonedx import export_bom
from charter.catalog.datasets import lineage_of, link, list_datasets, register_dataset, show_dataset
from charter.catalog.read_models import resource_of, system_read, version_read
from charter.catalog.repository import model_by_ref, system_by_name
from charter.catalog.schemas import ModelVersionRead, SystemRead
from charter.catalog.systems import classify_system, list_systems, register_system, show_system, update_system
from charter.catalog.tables import ModelVersionRow
from charter.catalog.versions import (
    list_model_versions,
    lock_version,
    mark_retired,
    register_model_version,
    retired_error,
    show_model_version,
    update_model_version,
)
from charter.core.clock import utcnow
from charter.core.events import AuditEvent
from charter.core.thresholds import DEFAULT_THRESHOLDS
from charter.storage.uow import UnitOfWork


def get_model_version(uow: UnitOfWork, ref: str) -> ModelVersionRead:
    """The model version `SYSTEM@VERSION`; raises NotFound (404) when the system or version is unknown."""
    system, row = model_by_ref(uow.session, ref)
    return version_read(system, row)


def get_system(uow: UnitOfWork, name: str) -> SystemRead:
    """The AI system `name` with tier, flags, obligations and answers; raises NotFound."""
    return system_read(system_by_name(uow.session, name))


def is_prohibited(uow: UnitOfWork, name: str) -> bool:
    """True when the system's questionnaire answered yes to an Art. 5 practice: no license may be issued."""
    return system_by_name(uow.session, name).risk_tier == "prohibited"


def system_resource(uow: UnitOfWork, name: str) -> Resource:
    """The system as an authorization resource: team, system name, and `production` when production-licensed."""
    return resource_of(system_by_name(uow.session, name))


def lock_model_version(uow: UnitOfWork, ref: str, *, actor: str = SYSTEM_ACTOR.ref) -> ModelVersionRead:
    """Make `SYSTEM@VERSION` immutable (licenses call this on activation); audited, committed by the caller."""
    return lock_version(uow, ref, actor)


def set_production_licensed(uow: UnitOfWork, system: str, flag: bool, *, actor: str = SYSTEM_ACTOR.ref) -> None:
    """Record whether `system` holds a production license (licenses call this on activation / revocation).

    While true, every catalog write on the system needs `catalog.write_production` (senior-engineer or admin).
    Audited when the flag changes; committed by the caller's transaction.
    """
    row = system_by_name(uow.session, system, lock=True)
    if row.production_licensed == flag:
        return
    row.production_licensed = flag
    row.updated_at = utcnow()
    uow.record(AuditEvent(actor, "system.production_licensed", f"system:{system}", details={"production": flag}))
    uow.session.flush()


mark_production = set_production_licensed


def retire_model_version(uow: UnitOfWork, actor: Actor, ref: str, reason: str) -> ModelVersionRead:
    """Mark `SYSTEM@VERSION` retired (authorized as a catalog write: production systems need senior-engineer).

    The licenses use case calls it and revokes the version's licenses in the same transaction; it does not commit.
    """
    return mark_retired(uow, actor, ref, reason)


def model_signer(uow: UnitOfWork, version_id: str) -> str | None:
    """The verified signer (sha256 of its public key) of a model version, if it was registered signed."""
    row = uow.session.get(ModelVersionRow, version_id)
    signature = row.signature if row is not None else None
    return str(signature["signer"]) if signature and signature.get("signer") else None


def evidence_context(uow: UnitOfWork, ref: str) -> dict[str, Any]:
    """The `system`, `model`, `datasets` and `provenance` sections of the policy evidence for `SYSTEM@VERSION`."""
    system, version = model_by_ref(uow.session, ref)
    nodes = provenance.tree(uow.session, version)
    datasets = [
        {
            "name": n.dataset.name,
            "digest": n.dataset.digest,
            "license": n.dataset.license,
            "lawful_basis": n.dataset.lawful_basis,
            "personal_data": n.dataset.personal_data,
            "special_category": n.dataset.special_category,
            "role": n.role,
        }
        for n in provenance.flatten(nodes)
    ]
    checked = provenance.provenance(nodes)
    return {
        "system": {
            "name": system.name,
            "risk_tier": system.risk_tier,
            "annex_iii_area": system.annex_iii_area,
            "gpai": system.gpai,
            "gpai_systemic": system.gpai_systemic,
            "generative": _generative(system.answers),
            "personal_data": system.personal_data,
            "special_category_data": system.special_category_data,
            "human_oversight": system.human_oversight,
            "dpia_reference": system.dpia_reference,
            "log_retention_days": system.log_retention_days,
            "owner_team": system.team,
            "access_restricted": system.access_restricted,
        },
        "model": {
            "digest": version.digest,
            "version": version.version,
            "framework": version.framework,
            "format": version.format,
            "digest_pinned": True,
            "license": version.license,
            "restricted_purposes": list(version.restricted_purposes),
            "card": dict(version.card),
            "signature": {
                "verified": bool(version.signature),
                "signer": (version.signature or {}).get("signer"),
                "method": (version.signature or {}).get("method"),
            },
        },
        "datasets": datasets,
        "provenance": {"complete": checked.complete, "issues": list(checked.issues)},
        "thresholds": {**DEFAULT_THRESHOLDS, **(system.thresholds or {})},  # the system's may only be stricter
    }


def _generative(answers: Any) -> bool:
    """The questionnaire says generative: the system is generative AI, or generates synthetic content (Art. 50(2))."""
    if not isinstance(answers, dict):
        return False
    context = answers.get("context") or {}
    transparency = answers.get("transparency") or {}
    return bool(context.get("generative")) or bool(transparency.get("generates_synthetic_content"))


__all__ = [
    "classify_system",
    "evidence_context",
    "export_bom",
    "get_model_version",
    "get_system",
    "is_prohibited",
    "lineage_of",
    "link",
    "list_datasets",
    "list_model_versions",
    "list_systems",
    "lock_model_version",
    "mark_production",
    "register_dataset",
    "register_model_version",
    "register_system",
    "retire_model_version",
    "retired_error",
    "set_production_licensed",
    "show_dataset",
    "show_model_version",
    "show_system",
    "system_resource",
    "update_model_version",
    "update_system",
]
