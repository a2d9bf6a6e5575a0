"""Gather what a system report states, read-only, from the catalog, evaluation, licenses, monitoring and audit.

Reading a report needs `report.read` on the system; the domain reads below run with the same actor (every role
that holds `report.read` also holds the domain read permissions in the same scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from charter.attestations import service as attestations
from charter.attestations.schemas import ControlsStatus
from charter.audit import store as audit_store
from charter.audit.service import entry_read
from charter.audit.service import latest_checkpoint as audit_checkpoint
from charter.audit.store import EntryFilter
from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission
from charter.catalog import service as catalog
from charter.catalog.schemas import DatasetRead, LineageNode, LineageRead, ModelVersionRead, SystemRead
from charter.core.clock import utcnow
from charter.core.errors import Forbidden, InvalidInput, NotFound
from charter.evaluation import service as evaluation
from charter.evaluation.schemas import AssessmentDetail, AssessmentRead, EvaluationRead
from charter.licenses import reaudit
from charter.licenses import service as licenses
from charter.licenses.model import LicenseState
from charter.licenses.schemas import AuditTaskRead, LicenseRead, LicenseStatus
from charter.reports.monitoring import MonitoringSource, MonitoringSummary
from charter.storage.uow import UnitOfWork

AUDIT_LIMIT = 200
TIMELINE_LIMIT = 200
ASSESSMENT_ENTRIES = 20  # newest assessments per version whose audit entries the summary lists


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audit entry as a report shows it."""

    seq: int
    ts: str
    actor: str
    action: str
    resource: str
    outcome: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "details": self.details,
        }


@dataclass
class VersionFacts:
    """A model version with its lineage, dataset records, assessments (newest first) and evaluations."""

    model: ModelVersionRead
    lineage: LineageRead
    datasets: dict[str, DatasetRead | None]  # None: the dataset record is not readable by this actor
    assessments: list[AssessmentRead]
    latest: AssessmentDetail | None
    evaluations: list[EvaluationRead]


@dataclass
class LicenseFacts:
    """A license, where it stands (with every sign-off) and its audit timeline, oldest first."""

    license: LicenseRead
    status: LicenseStatus
    timeline: list[AuditLine]

    @property
    def live(self) -> bool:
        return self.license.state in (LicenseState.ACTIVE, LicenseState.SUSPENDED)


@dataclass
class AuditFacts:
    """The newest audit entries about the system and the log's latest signed checkpoint."""

    entries: list[AuditLine]
    limit: int
    checkpoint: dict[str, Any] | None


@dataclass
class SystemFacts:
    """Everything a system report is generated from."""

    system: SystemRead
    versions: list[VersionFacts]
    licenses: list[LicenseFacts]
    reaudits: list[AuditTaskRead]
    monitoring: MonitoringSummary | None
    audit: AuditFacts
    generated_at: datetime
    generated_by: str
    notes: list[str] = field(default_factory=list)
    controls: ControlsStatus | None = None  # per-control status (auto-checked, attested, expired, missing, n/a)

    @property
    def current(self) -> VersionFacts | None:
        """The version the dossier describes: the one of the newest live license, else the newest version."""
        live = [lf.license.model_version for lf in self.licenses if lf.live]
        for version in self.versions:
            if live and version.model.version == live[0]:
                return version
        return self.versions[-1] if self.versions else None


def collect(uow: UnitOfWork, actor: Actor, name: str, *, monitoring: MonitoringSource | None = None) -> SystemFacts:
    """Read every fact about system `name`; Forbidden without `report.read` on it, NotFound when unknown."""
    resource = catalog.system_resource(uow, name)
    authorize(actor, Permission.REPORT_READ, resource)
    system = catalog.get_system(uow, name)
    versions = sorted(catalog.list_model_versions(uow, actor, name), key=lambda v: (v.created_at, v.version))
    version_facts = [_version(uow, actor, v) for v in versions]
    license_facts = [_license(uow, actor, lic) for lic in licenses.list_licenses(uow, actor, system=name)]
    tasks = [reaudit.to_read(row) for row in reaudit.open_tasks(uow, name)]
    return SystemFacts(
        system=system,
        versions=version_facts,
        licenses=license_facts,
        reaudits=tasks,
        monitoring=monitoring(uow, name) if monitoring is not None else None,
        audit=_audit(uow, name, version_facts, license_facts, tasks),
        generated_at=utcnow(),
        generated_by=actor.ref,
        controls=_controls(uow, actor, name),
    )


def _controls(uow: UnitOfWork, actor: Actor, name: str) -> ControlsStatus | None:
    """The EU AI Act control status; None when the stored answers no longer classify (re-classify the system)."""
    try:
        return attestations.status(uow, actor, name)
    except (InvalidInput, ValidationError):
        return None


def _version(uow: UnitOfWork, actor: Actor, model: ModelVersionRead) -> VersionFacts:
    lineage = catalog.lineage_of(uow, actor, model.ref)
    datasets: dict[str, DatasetRead | None] = {}
    for node in flatten(lineage.datasets):
        if node.ref not in datasets:
            try:
                datasets[node.ref] = catalog.show_dataset(uow, actor, node.ref)
            except (Forbidden, NotFound):
                datasets[node.ref] = None
    assessments = evaluation.list_assessments(uow, actor, model.ref)
    latest = evaluation.get_assessment(uow, actor, assessments[0].id) if assessments else None
    return VersionFacts(
        model=model,
        lineage=lineage,
        datasets=datasets,
        assessments=assessments,
        latest=latest,
        evaluations=evaluation.list_evaluations(uow, actor, model.ref),
    )


def flatten(nodes: list[LineageNode]) -> list[LineageNode]:
    """Every node of a lineage forest, depth first."""
    return [node for _, node in lineage_rows(nodes)]


def lineage_rows(nodes: list[LineageNode], depth: int = 0) -> list[tuple[int, LineageNode]]:
    """(depth, node) for every node of a lineage forest, depth first, for indented tables."""
    out: list[tuple[int, LineageNode]] = []
    for node in nodes:
        out.append((depth, node))
        out.extend(lineage_rows(node.upstream, depth + 1))
    return out


def _license(uow: UnitOfWork, actor: Actor, lic: LicenseRead) -> LicenseFacts:
    status = licenses.status(uow, actor, lic.id)
    timeline = entries(uow, f"license:{lic.id}", limit=TIMELINE_LIMIT, newest_first=False)
    return LicenseFacts(license=lic, status=status, timeline=timeline)


def entries(uow: UnitOfWork, resource: str, *, limit: int, newest_first: bool = True) -> list[AuditLine]:
    """Audit entries about `resource` (exact, or a prefix ending in `*`)."""
    rows = audit_store.list_entries(uow.session, EntryFilter(resource=resource), limit=limit, newest_first=newest_first)
    out = []
    for seq, body, leaf in rows:
        e = entry_read(seq, body, leaf)
        out.append(AuditLine(e.seq, e.ts, e.actor, e.action, e.resource, e.outcome, dict(e.details)))
    return out


def _audit(
    uow: UnitOfWork, name: str, versions: list[VersionFacts], lics: list[LicenseFacts], tasks: list[AuditTaskRead]
) -> AuditFacts:
    resources = [f"system:{name}", f"model:{name}@*"]
    resources += [f"dataset:{ref}" for v in versions for ref in v.datasets]
    resources += [f"assessment:{a.id}" for v in versions for a in v.assessments[:ASSESSMENT_ENTRIES]]
    resources += [f"audit-task:{t.id}" for t in tasks]
    found: dict[int, AuditLine] = {}
    for resource in dict.fromkeys(resources):
        for line in entries(uow, resource, limit=AUDIT_LIMIT):
            found[line.seq] = line
    for lf in lics:
        for line in lf.timeline:
            found[line.seq] = line
    newest = sorted(found.values(), key=lambda e: e.seq, reverse=True)[:AUDIT_LIMIT]
    return AuditFacts(entries=newest, limit=AUDIT_LIMIT, checkpoint=audit_checkpoint(uow))
