"""Obligation documents: FRIA (Art. 27) and post-market monitoring plan (Art. 72), versioned per system."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.catalog import documents
from charter.catalog.documents import DocumentCreate, DocumentRead
from charter.core.pages import Page, paginate
from charter.licenses import conditions

router = APIRouter(tags=["documents"])
# What monitoring computes per window, the metrics a post-market monitoring plan (Art. 72) can name.
WATCHED = frozenset(
    {*conditions.PLAIN_METRICS, *conditions.GATEWAY_METRICS, *conditions.FEATURE_METRICS, *conditions.ATTRIBUTE_METRICS}
)

Write = Annotated[Actor, Depends(Authz(P.CONTROL_ATTEST))]
Read = Annotated[Actor, Depends(Authz(P.CATALOG_READ))]


@router.post("/systems/{name}/documents", status_code=201)
def submit_document(name: str, body: DocumentCreate, actor: Write, c: ContainerDep) -> DocumentRead:
    """Store the next revision of the system's FRIA or post-market monitoring plan for one model version."""
    with c.uow() as uow:
        return documents.submit(uow, actor, name, body, known_metrics=WATCHED)


@router.get("/systems/{name}/documents")
def list_documents(
    name: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[DocumentRead]:
    """The system's documents, newest revision first per kind."""
    with c.uow(write=False) as uow:
        return paginate(documents.list_documents(uow, actor, name), cursor, limit)
