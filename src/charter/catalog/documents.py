"""Obligation documents: the fundamental rights impact assessment (FRIA, EU AI Act Art. 27) and the post-market
monitoring plan (Art. 72), versioned per system and tied to one model version.

A system needs a FRIA when its obligations include EUAIA-ART27 (deployers in Art. 27(1)'s scope) and a plan when
they include EUAIA-ART72 (providers of high-risk systems). A document covers the model version it names: a model
update re-opens it (the new version needs a revision of its own). The licensing policy's `obligation_documents`
makes license activation require the current ones.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission
from charter.catalog.read_models import resource_of
from charter.catalog.repository import system_by_name
from charter.catalog.tables import ModelVersionRow, ObligationDocumentRow, SystemRow
from charter.core.clock import utcnow
from charter.core.errors import ErrorCode, InvalidInput, NotFound
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.core.schema import Strict
from charter.storage.uow import UnitOfWork

FRIA, PLAN = "fria", "post_market_plan"
CONTROL = {FRIA: "EUAIA-ART27", PLAN: "EUAIA-ART72"}
ARTICLE = {FRIA: "Art. 27", PLAN: "Art. 72"}
SECTIONS: dict[str, dict[str, str]] = {
    FRIA: {
        "process": "Art. 27(1)(a): the deployer's processes in which the system is used, in line with its purpose",
        "period_and_frequency": "Art. 27(1)(b): the period and frequency of use",
        "affected_persons": "Art. 27(1)(c): categories of natural persons and groups likely to be affected",
        "risks_of_harm": "Art. 27(1)(d): specific risks of harm likely to affect them",
        "human_oversight": "Art. 27(1)(e): how human oversight is implemented (instructions for use)",
        "measures": "Art. 27(1)(f): measures if the risks materialise, internal governance, complaint mechanisms",
    },
    PLAN: {
        "data_collection": "Art. 72(2): how performance data are actively and systematically collected",
        "evaluation": "Art. 72(1)-(2): how continuous compliance with Chapter III Section 2 is evaluated",
        "responsibilities": "who reviews the monitoring results, and how often",
        "corrective_actions": "Art. 20: corrective actions when the system does not conform",
    },
}


class DocumentCreate(Strict):
    kind: str = Field(pattern=r"^(fria|post_market_plan)$", description="fria | post_market_plan")
    model_version: str = Field(min_length=1, max_length=64, description="The model version the document covers")
    sections: dict[str, str] = Field(description="Required sections, each a non-empty text")
    metrics: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Plan only: the metrics Charter watches for this system (e.g. drift.psi_max, fairness.dp_diff)",
    )


class DocumentRead(BaseModel):
    id: str
    system: str
    kind: str
    article: str
    revision: int
    model_version: str
    sections: dict[str, str]
    metrics: list[str]
    created_by: str
    created_at: Any


def _read(row: ObligationDocumentRow, system: str) -> DocumentRead:
    return DocumentRead(
        id=row.id,
        system=system,
        kind=row.kind,
        article=ARTICLE[row.kind],
        revision=row.revision,
        model_version=row.model_version,
        sections=dict(row.sections),
        metrics=list(row.metrics),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def required(system: SystemRow) -> list[str]:
    """The document kinds the system's obligations call for."""
    return [kind for kind, control in CONTROL.items() if control in (system.obligations or [])]


def submit(
    uow: UnitOfWork, actor: Actor, name: str, data: DocumentCreate, *, known_metrics: frozenset[str] = frozenset()
) -> DocumentRead:
    """Store the next revision of a FRIA or plan; refuses missing or empty required sections, naming them, and (given
    `known_metrics`, the monitoring vocabulary) plan metrics Charter does not watch."""
    system = system_by_name(uow.session, name)
    authorize(actor, Permission.CONTROL_ATTEST, resource_of(system))
    version = uow.session.scalar(
        select(ModelVersionRow).where(
            ModelVersionRow.system_id == system.id, ModelVersionRow.version == data.model_version
        )
    )
    if version is None:
        raise NotFound(
            f"no model version {name}@{data.model_version}", code=ErrorCode.MODEL_NOT_FOUND, field="model_version"
        )
    spec = SECTIONS[data.kind]
    missing = [k for k in spec if not (data.sections.get(k) or "").strip()]
    if missing:
        raise InvalidInput(
            f"{ARTICLE[data.kind]} {data.kind} is missing required sections: "
            + "; ".join(f"{k} ({spec[k]})" for k in missing),
            field=f"sections.{missing[0]}",
        )
    unknown = sorted(set(data.sections) - set(spec))
    if unknown:
        shown = ", ".join(k if len(k) <= 60 else k[:60] + "…" for k in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InvalidInput(
            f"unknown sections: {shown}{more}; a {data.kind} has: {', '.join(spec)}",
            field=f"sections.{unknown[0][:60]}",
        )
    if data.kind == PLAN and not data.metrics:
        raise InvalidInput("a post-market monitoring plan names the metrics it watches", field="metrics")
    unwatched = [m for m in data.metrics if known_metrics and m.split("[", 1)[0] not in known_metrics]
    if unwatched:
        raise InvalidInput(
            f"metrics Charter does not watch: {', '.join(unwatched)}; known: {', '.join(sorted(known_metrics))}",
            field="metrics",
        )
    last = uow.session.scalar(
        select(func.max(ObligationDocumentRow.revision)).where(
            ObligationDocumentRow.system_id == system.id, ObligationDocumentRow.kind == data.kind
        )
    )
    row = ObligationDocumentRow(
        id=new_id("doc"),
        system_id=system.id,
        kind=data.kind,
        revision=(last or 0) + 1,
        model_version=data.model_version,
        sections=dict(data.sections),
        metrics=list(data.metrics),
        created_by=actor.ref,
        created_at=utcnow(),
    )
    uow.session.add(row)
    uow.record(
        AuditEvent(
            actor.ref,
            "document.submit",
            f"system:{name}",
            details={
                "document": row.id,
                "kind": row.kind,
                "revision": row.revision,
                "model": f"{name}@{row.model_version}",
            },
        )
    )
    uow.commit()
    return _read(row, name)


def list_documents(uow: UnitOfWork, actor: Actor, name: str) -> list[DocumentRead]:
    system = system_by_name(uow.session, name)
    authorize(actor, Permission.CATALOG_READ, resource_of(system))
    rows = uow.session.scalars(
        select(ObligationDocumentRow)
        .where(ObligationDocumentRow.system_id == system.id)
        .order_by(ObligationDocumentRow.kind, ObligationDocumentRow.revision.desc())
    )
    return [_read(r, name) for r in rows]


def current(uow: UnitOfWork, system: SystemRow, kind: str, model_version: str) -> ObligationDocumentRow | None:
    """The newest revision of `kind` covering `model_version`, if any."""
    return uow.session.scalar(
        select(ObligationDocumentRow)
        .where(
            ObligationDocumentRow.system_id == system.id,
            ObligationDocumentRow.kind == kind,
            ObligationDocumentRow.model_version == model_version,
        )
        .order_by(ObligationDocumentRow.revision.desc())
        .limit(1)
    )


def missing_for(uow: UnitOfWork, name: str, model_version: str, kinds: tuple[str, ...]) -> list[str]:
    """Why a license of NAME@VERSION cannot activate for lack of documents (only among `kinds`)."""
    system = system_by_name(uow.session, name)
    out = []
    for kind in required(system):
        if kind in kinds and current(uow, system, kind, model_version) is None:
            out.append(
                f"{kind} ({ARTICLE[kind]}): none for {name}@{model_version} (a model update re-opens it; "
                f"charter document add {name}@{model_version} --kind {kind.replace('_', '-')} --file FILE)"
            )
    return out
