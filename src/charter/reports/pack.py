"""Evidence packs: one zip an auditor verifies offline.

Contents: `report.html` and `report.json` (the Annex IV dossier), `controls/status.json` (every EU AI Act control:
auto-checked, attested, expired, missing or not applicable) with the stored attestation evidence under
`controls/evidence/`, `assessments/*.json`, `licenses/*.json` with the
signed tokens `licenses/*.jwt` and `licenses/jwks.json`, `audit/export.jsonl` (from the system's first audit entry to
a signed checkpoint), `audit/checkpoint.txt`, `audit/verifier-key.txt`, `README.txt` and `MANIFEST.json` with the
sha256 of every file. The digests of the non-audit files are also written to the audit log (`report.pack`) before
the export is cut, so the signed log itself vouches for them: editing a file and its manifest line is still caught.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from charter import __version__
from charter.attestations import service as attestations
from charter.audit import store as audit_store
from charter.audit.export import jsonl_lines, plan_export
from charter.audit.service import AuditLog
from charter.audit.store import EntryFilter
from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission, Resource
from charter.catalog import service as catalog
from charter.core.clock import isoformat
from charter.core.errors import ErrorCode, Unavailable
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.evaluation import service as evaluation
from charter.licenses import jose
from charter.licenses import service as licenses
from charter.licenses.issuer import Issuer
from charter.reports import dossier, render
from charter.reports.facts import SystemFacts, collect
from charter.reports.layout import (
    ANCHOR_ACTION,
    AUDIT_EXPORT,
    CHECKPOINT,
    FORMAT,
    JWKS,
    MANIFEST,
    README,
    VERIFIER_KEY,
)
from charter.reports.monitoring import MonitoringSource
from charter.storage.uow import UnitOfWork, UnitOfWorkFactory

AUDIT_RESOURCE = Resource(kind="audit")

README_TEXT = """Charter evidence pack for AI system {system} (pack {pack}, generated {generated_at} by {generated_by}).

Verify everything offline:            charter report verify-pack THIS.zip [--key VERIFIER_KEY] [--jwks JWKS]
Verify only the audit log export:      charter audit verify --from-export audit/export.jsonl \\
                                           --key audit/verifier-key.txt --checkpoint audit/checkpoint.txt

MANIFEST.json lists the sha256 of every file. The digests of every file outside audit/ were also appended to the
audit log (action report.pack, details.pack = {pack}) before the export was cut at a signed checkpoint, so the
signed log vouches for them. The verifier key in this pack only proves the pack is self-consistent:
compare it with the key the log's operator publishes (GET /.well-known/charter/audit-key) or pass --key.
"""


@dataclass(frozen=True, slots=True)
class PackResult:
    """What was written: the manifest, and the audit entry that anchors the files."""

    manifest: dict[str, Any]

    @property
    def pack_id(self) -> str:
        return str(self.manifest["pack"])


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2, default=str).encode() + b"\n"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _documents(uow: UnitOfWork, actor: Actor, facts: SystemFacts, issuer: Issuer) -> dict[str, bytes]:
    """Every file of the pack except the audit material and the manifest."""
    report = dossier.build(facts)
    files: dict[str, bytes] = {
        "report.html": render.system_html(report).encode(),
        "report.json": _json(dossier.to_json(report)),
    }
    for version in facts.versions:
        for a in version.assessments:
            detail = evaluation.get_assessment(uow, actor, a.id)
            files[f"assessments/{a.id}.json"] = _json(detail.model_dump(mode="json"))
    for lf in facts.licenses:
        doc = {**lf.license.model_dump(mode="json"), "status": lf.status.model_dump(mode="json")}
        files[f"licenses/{lf.license.id}.json"] = _json(doc)
        if lf.live:
            token = licenses.token(uow, actor, lf.license.id, issuer).token
            files[f"licenses/{lf.license.id}.jwt"] = token.encode() + b"\n"
    files[JWKS] = _json(jose.jwks(issuer.key))
    files.update(_controls(uow, actor, facts.system.name))
    return files


def _controls(uow: UnitOfWork, actor: Actor, system: str) -> dict[str, bytes]:
    """`controls/status.json` (each control: auto-checked, attested, expired, missing, n/a) and the stored evidence
    files of the system's attestations under `controls/evidence/ATTESTATION-FILENAME`."""
    files = {"controls/status.json": _json(attestations.status(uow, actor, system).model_dump(mode="json"))}
    for row in attestations.latest(uow, system).values():
        if row.evidence is not None:
            safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in row.evidence_name)[:120]
            files[f"controls/evidence/{row.id}-{safe}"] = row.evidence
    return files


def _first_seq(uow: UnitOfWork, system: str) -> int:
    """The system's registration entry: the export starts there."""
    rows = audit_store.list_entries(uow.session, EntryFilter(resource=f"system:{system}"), limit=1, newest_first=False)
    return rows[0][0] if rows else 0


class _Hashing:
    """Counts and hashes what is written through it."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write_all(self, blocks: Iterable[bytes]) -> None:
        for block in blocks:
            self.sink.write(block)
            self.sha.update(block)
            self.size += len(block)


def write_pack(
    uow: UnitOfWorkFactory,
    actor: Actor,
    system: str,
    out: IO[bytes],
    *,
    audit: AuditLog,
    issuer: Issuer,
    monitoring: MonitoringSource | None = None,
) -> PackResult:
    """Write the evidence pack of `system` to `out` (a binary file); needs report, license and audit read."""
    with uow(write=False) as read:
        facts = collect(read, actor, system, monitoring=monitoring)
        authorize(actor, Permission.LICENSE_READ, catalog.system_resource(read, system))
        authorize(actor, Permission.AUDIT_READ, AUDIT_RESOURCE)
        files = _documents(read, actor, facts, issuer)
        first = _first_seq(read, system)
    pack_id = new_id("pack")
    generated_at = isoformat(facts.generated_at)
    files[README] = README_TEXT.format(
        system=system, pack=pack_id, generated_at=generated_at, generated_by=actor.ref
    ).encode()
    anchored = {name: _sha256(data) for name, data in sorted(files.items())}
    with uow() as write:
        seq = write.record(
            AuditEvent(
                actor.ref,
                ANCHOR_ACTION,
                f"system:{system}",
                details={"pack": pack_id, "files": anchored},
                governance=False,
            )
        )
        write.commit()
    cp = audit.checkpointer.checkpoint()
    if cp is None or cp.size <= seq:
        raise Unavailable(
            "the audit log could not sign a checkpoint covering the pack; retry", code=ErrorCode.NO_CHECKPOINT
        )
    manifest_files: dict[str, dict[str, Any]] = {
        name: {"sha256": anchored[name], "size": len(data)} for name, data in files.items()
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
        with uow(write=False) as read:
            plan = plan_export(read.session, first, cp.size)
            if plan.anchor is None:
                raise Unavailable("no signed checkpoint covers the export; retry", code=ErrorCode.NO_CHECKPOINT)
            origin = plan.anchor.origin
            vkey = audit.checkpointer.verifier_key_for(origin)
            info = zipfile.ZipInfo(AUDIT_EXPORT, date_time=facts.generated_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                hashing = _Hashing(member)
                hashing.write_all(jsonl_lines(read.session, plan, origin, vkey))
            note = plan.anchor.note
        manifest_files[AUDIT_EXPORT] = {"sha256": hashing.sha.hexdigest(), "size": hashing.size}
        extra = {
            CHECKPOINT: note.encode(),
            VERIFIER_KEY: vkey.encode() + b"\n",
        }
        for name, data in extra.items():
            zf.writestr(name, data)
            manifest_files[name] = {"sha256": _sha256(data), "size": len(data)}
        manifest = {
            "format": FORMAT,
            "version": 1,
            "pack": pack_id,
            "system": system,
            "generated_at": generated_at,
            "generated_by": actor.ref,
            "generator": f"charter {__version__}",
            "anchor": {"seq": seq, "action": ANCHOR_ACTION},
            "audit": {"first": first, "end": plan.end, "origin": origin, "checkpoint_size": plan.anchor.size},
            "files": dict(sorted(manifest_files.items())),
        }
        zf.writestr(MANIFEST, _json(manifest))
    return PackResult(manifest=manifest)
