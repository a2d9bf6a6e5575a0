"""Audit log: filter and page through entries, one entry with its canonical body and proof, verification status."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from charter.audit import service as audit_service
from charter.audit import store as audit_store
from charter.audit.merkle import leaf_hash
from charter.auth.authorize import authorize
from charter.auth.model import Permission, Resource
from charter.core.errors import ErrorCode, InvalidInput, NotFound
from charter.web.handler import Ctx
from charter.web.rendering import Page

AUDIT = Resource(kind="audit")
PAGE_SIZE = 50
FILTERS = ("actor", "action", "resource", "outcome")
OUTCOMES = ("success", "denied", "error", "degraded")


def b64(data: bytes) -> str:
    """Hashes as the audit API and checkpoints print them (standard base64)."""
    return base64.b64encode(data).decode()


def _filter(filters: dict[str, str]) -> audit_store.PrefixFilter:
    if filters["outcome"] and filters["outcome"] not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
    return audit_store.PrefixFilter(**filters)


def _int(ctx: Ctx, name: str) -> int | None:
    raw = ctx.q(name)
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput(f"'{name}' must be a whole number, got '{raw[:40]}'", field=name)
    return int(raw)


def head_info(ctx: Ctx) -> dict[str, Any] | None:
    """The tree head (size, root, last update) read in its own transaction; None for an empty log."""
    with ctx.uow() as uow:
        head = audit_store.stored_head(uow.session)
        if head is None:
            return None
        return {"size": head.size, "root": b64(head.root), "updated_at": head.updated_at}


def log_page(ctx: Ctx) -> Page:
    """GET /audit — newest first, keyset paging by sequence number, prefix filters."""
    authorize(ctx.actor, Permission.AUDIT_READ, AUDIT)
    filters = {name: ctx.q(name) for name in FILTERS}
    before = _int(ctx, "before")
    where = _filter(filters)
    with ctx.uow() as uow:
        rows = audit_store.summaries(uow.session, where, before=before, limit=PAGE_SIZE + 1)
        matching = audit_store.count_matching(uow.session, where)
    entries = rows[:PAGE_SIZE]
    active = {k: v for k, v in filters.items() if v}
    more = len(rows) > PAGE_SIZE
    next_url = f"/audit?{urlencode({**active, 'before': entries[-1]['seq']})}" if more else None
    newest_url = f"/audit?{urlencode(active)}" if active else "/audit"
    data = {
        "title": "Audit log",
        "entries": entries,
        "filters": filters,
        "outcomes": OUTCOMES,
        "matching": matching or 0,
        "next_url": next_url,
        "newest_url": newest_url,
        "first_page": before is None,
        "head": head_info(ctx),
        "verification": verification(ctx),
    }
    return Page("audit.html", data, fragment="_audit_rows.html")


def verification(ctx: Ctx) -> dict[str, Any] | None:
    """The latest signed checkpoint and whether its signature verifies (None: none signed yet)."""
    with ctx.uow() as uow:
        return audit_service.latest_checkpoint(uow)


def entry_page(ctx: Ctx) -> Page:
    """GET /audit/{seq} — the stored canonical bytes, their leaf hash, and an inclusion proof when available."""
    authorize(ctx.actor, Permission.AUDIT_READ, AUDIT)
    raw = ctx.param("seq")
    if not raw.isdigit():
        raise NotFound(f"audit entry '{raw[:40]}' does not exist: sequence numbers are whole numbers")
    seq = int(raw)
    with ctx.uow() as uow:
        row = audit_store.find_entry(uow.session, seq)
        if row is None:
            raise NotFound(f"audit entry #{seq} does not exist", code=ErrorCode.AUDIT_ENTRY_NOT_FOUND)
        body = bytes(row.body)
        stored_leaf = bytes(row.leaf_hash)
        meta = {"ts": row.ts, "actor": row.actor, "action": row.action, "resource": row.resource}
        outcome = row.outcome
    try:
        pretty = json.dumps(json.loads(body), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        pretty = body.decode("utf-8", "replace")
    with ctx.uow() as uow:
        proof = audit_service.inclusion_proof(uow, seq)
    data = {
        "title": f"Audit entry #{seq}",
        "seq": seq,
        "row": meta,
        "outcome": outcome,
        "pretty": pretty,
        "body_bytes": len(body),
        "leaf": b64(stored_leaf),
        "leaf_ok": leaf_hash(body) == stored_leaf,
        "proof": proof,
        "head": head_info(ctx),
    }
    return Page("audit_entry.html", data)
