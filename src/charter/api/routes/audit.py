"""Audit log: entries, checkpoints, inclusion/consistency proofs, export; public checkpoint and verifier key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from charter.api.deps import AuditLogDep, Authz
from charter.audit.schemas import (
    CheckpointPage,
    CheckpointRead,
    ConsistencyProofRead,
    EntryPage,
    EntryRead,
    InclusionProofRead,
)
from charter.audit.service import AuditLog
from charter.audit.store import EntryFilter
from charter.auth.authorize import authorize
from charter.auth.model import Actor, Resource
from charter.auth.model import Permission as P
from charter.bootstrap import Container, PublicRoute

router = APIRouter(tags=["audit"])

CHECKPOINT_PATH = "/.well-known/charter/checkpoint"
KEY_PATH = "/.well-known/charter/audit-key"
AUDIT = Resource(kind="audit")


def _read(actor: Actor) -> None:
    """The whole log spans every team: reading it needs `audit.read` in global scope (auditor, admin, …)."""
    authorize(actor, P.AUDIT_READ, AUDIT)


Reader = Annotated[Actor, Depends(Authz(P.AUDIT_READ))]


# Sequence numbers and tree sizes are 64-bit integers in both databases: larger ones are invalid input, not a crash.
MAX_SEQ = 2**63 - 1
Seq = Annotated[int, Path(ge=0, le=MAX_SEQ, description="Entry sequence number.")]


@router.get("/audit/entries")
def list_entries(
    actor: Reader,
    log: AuditLogDep,
    actor_ref: Annotated[str | None, Query(alias="actor", max_length=140)] = None,
    action: Annotated[str | None, Query(max_length=80, description="Exact, or a prefix ending in *.")] = None,
    resource: Annotated[str | None, Query(max_length=200, description="Exact, or a prefix ending in *.")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Literal["asc", "desc"] = "desc",
) -> EntryPage:
    """Entries, newest first by default, filtered by actor, action, resource and time [since, until)."""
    _read(actor)
    f = EntryFilter(actor=actor_ref, action=action, resource=resource, since=since, until=until)
    return log.entries(f, cursor=cursor, limit=limit, order=order)


@router.get("/audit/entries/{seq}")
def get_entry(seq: Seq, actor: Reader, log: AuditLogDep) -> EntryRead:
    """One entry with its canonical body and leaf hash."""
    _read(actor)
    return log.entry(seq)


@router.get("/audit/entries/{seq}/proof")
def entry_proof(
    seq: Seq,
    actor: Reader,
    log: AuditLogDep,
    size: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="Tree size (default: the latest checkpoint).")
    ] = None,
) -> InclusionProofRead:
    """RFC 9162 inclusion proof of the entry, with the signed checkpoint it verifies against."""
    _read(actor)
    return log.inclusion(seq, size)


@router.get("/audit/proofs/consistency")
def consistency_proof(
    actor: Reader,
    log: AuditLogDep,
    first: Annotated[int, Query(ge=0, le=MAX_SEQ)],
    second: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="Default: the latest checkpoint.")] = None,
) -> ConsistencyProofRead:
    """RFC 9162 consistency proof between two tree sizes."""
    _read(actor)
    return log.consistency(first, second)


@router.get("/audit/checkpoints")
def list_checkpoints(
    actor: Reader,
    log: AuditLogDep,
    # `cursor` + 1 is the first size asked for: it must fit in 64 bits too
    cursor: Annotated[int | None, Query(ge=0, le=MAX_SEQ - 1, description="`next` of the previous page.")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ - 1, description="Deprecated spelling of `cursor`.", deprecated=True)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointPage:
    """Signed checkpoints, smallest first."""
    _read(actor)
    return log.checkpoints(after=cursor if cursor is not None else after, limit=limit)


@router.get("/audit/checkpoints/latest")
def latest_checkpoint(actor: Reader, log: AuditLogDep) -> CheckpointRead:
    """The latest checkpoint (signed now if the log grew since the last one)."""
    _read(actor)
    return log.latest_checkpoint(fresh=True)


@router.get("/audit/export")
def export(
    actor: Reader,
    log: AuditLogDep,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    """Entries in [since, until) as JSONL (verifiable offline: `charter audit verify --from-export`) or CSV."""
    _read(actor)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    lines = log.export(since=since, until=until, fmt=format)
    name = f"charter-audit.{format}"
    return StreamingResponse(lines, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})


# --- public endpoints and background work, wired by charter.server ------------------------------------------------
def _public(log: AuditLog) -> list[PublicRoute]:
    async def checkpoint(_: Request) -> Response:
        try:
            cp = await run_in_threadpool(log.checkpointer.latest, fresh=False)
        except Exception:
            cp = None
        if cp is None:
            return PlainTextResponse("no checkpoint signed yet\n", status_code=503, headers={"retry-after": "1"})
        witnessing = log.checkpointer.witnessing
        latest = witnessing.latest if witnessing is not None else None
        note = latest.note if latest is not None and latest.size == cp.size else cp.note  # with its cosignatures
        return PlainTextResponse(note, headers={"cache-control": "no-cache"})

    async def key(_: Request) -> Response:
        return PlainTextResponse(await run_in_threadpool(log.verifier_key) + "\n")

    return [(CHECKPOINT_PATH, checkpoint), (KEY_PATH, key)]


def wire(container: Container) -> None:
    """Public checkpoint + key endpoints, and the checkpoint loop for the life of the server (idempotent)."""
    if container.audit_wired:
        return
    container.audit_wired = True
    log = container.audit_log
    container.public_routes.extend(_public(log))

    async def start() -> None:
        log.checkpointer.start()

    async def stop() -> None:
        await run_in_threadpool(log.checkpointer.stop)

    container.lifespan.add(start, stop)
