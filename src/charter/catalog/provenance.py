"""Lineage walks and provenance validation of a model version's data.

Every dataset linked to the version, and every dataset upstream of those (dataset → dataset edges, any depth),
must have a digest and a license, and a GDPR Art. 6 lawful basis when it holds personal data; its retention
must not have ended. A version without training data is incomplete too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from charter.catalog.repository import dataset_ref, edges_into_dataset, edges_into_model
from charter.catalog.schemas import LineageNode, Provenance
from charter.catalog.tables import DatasetRow, ModelVersionRow
from charter.core.clock import utcnow


@dataclass(slots=True)
class Node:
    """A dataset in a model version's lineage, with the role it plays and what it was derived from."""

    dataset: DatasetRow
    role: str
    upstream: list[Node] = field(default_factory=list)


def tree(session: Session, model: ModelVersionRow) -> list[Node]:
    """Datasets linked to `model`, each with its upstream datasets (cycles cut)."""
    out: list[Node] = []
    for edge in edges_into_model(session, model.id):
        ds = session.get(DatasetRow, edge.source_dataset_id)
        if ds is not None:
            out.append(Node(ds, edge.role, _upstream(session, ds, edge.role, {ds.id})))
    return out


def _upstream(session: Session, ds: DatasetRow, role: str, seen: set[str]) -> list[Node]:
    out: list[Node] = []
    for edge in edges_into_dataset(session, ds.id):
        parent = session.get(DatasetRow, edge.source_dataset_id)
        if parent is None or parent.id in seen:
            continue
        out.append(Node(parent, role, _upstream(session, parent, role, seen | {parent.id})))
    return out


def flatten(nodes: list[Node]) -> list[Node]:
    """Every node of the forest, depth first, each (dataset, role) once."""
    out: list[Node] = []
    seen: set[tuple[str, str]] = set()
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        key = (node.dataset.id, node.role)
        if key not in seen:
            seen.add(key)
            out.append(node)
        stack.extend(reversed(node.upstream))
    return out


def issues_of(ds: DatasetRow, role: str, today: date) -> list[str]:
    """What is missing on one dataset for its provenance to be complete."""
    label = f"{dataset_ref(ds)} ({role})"
    out: list[str] = []
    if not ds.digest:
        out.append(f"{label}: no digest")
    if not ds.license:
        out.append(f"{label}: no license")
    if ds.personal_data and not ds.lawful_basis:
        out.append(f"{label}: personal data without a GDPR Art. 6 lawful basis")
    if ds.retention_until is not None and ds.retention_until < today:
        out.append(f"{label}: retention ended on {ds.retention_until.isoformat()}")
    return out


def provenance(nodes: list[Node]) -> Provenance:
    """`{complete, issues}` for a model version's lineage forest."""
    today = utcnow().date()
    issues: list[str] = []
    if not any(n.role == "training" for n in nodes):
        issues.append("no training dataset linked (charter lineage link DATASET SYSTEM@VERSION --role training)")
    reported: set[str] = set()
    for node in flatten(nodes):
        if node.dataset.id in reported:
            continue
        reported.add(node.dataset.id)
        issues.extend(issues_of(node.dataset, node.role, today))
    return Provenance(complete=not issues, issues=issues)


def to_schema(nodes: list[Node]) -> list[LineageNode]:
    return [
        LineageNode(
            ref=dataset_ref(n.dataset),
            role=n.role,
            digest=n.dataset.digest,
            license=n.dataset.license,
            lawful_basis=n.dataset.lawful_basis,
            personal_data=n.dataset.personal_data,
            special_category=n.dataset.special_category,
            upstream=to_schema(n.upstream),
        )
        for n in nodes
    ]
