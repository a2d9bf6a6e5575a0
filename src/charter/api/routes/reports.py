"""Reports: the EU AI Act Annex IV dossier of a system (HTML, PDF, JSON), the compliance summary, evidence packs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from charter.api.deps import Authz, ContainerDep
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.bootstrap import Container
from charter.core.errors import CharterError
from charter.licenses.runtime import issuer_for
from charter.reports import service
from charter.reports.render import CSP
from charter.reports.schemas import ComplianceSummary

router = APIRouter(tags=["reports"])

Reader = Annotated[Actor, Depends(Authz(P.REPORT_READ))]
SPOOL_BYTES = 32 << 20
_CONTENT: dict[str, Any] = {"text/html": {}, "application/pdf": {}, "application/json": {}}


def _sign_checkpoint(c: Container) -> None:
    """Sign the log's head first (as the checkpoint loop would within a second) so the report shows a current one."""
    try:
        c.audit_log.checkpointer.checkpoint()
    except CharterError:
        pass  # a refused checkpoint is logged by the checkpointer; the report shows the latest signed one


def _response(rendered: service.Rendered, *, download: bool) -> Response:
    disposition = "attachment" if download else "inline"
    headers = {
        "content-disposition": f'{disposition}; filename="{rendered.filename}"',
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    if rendered.media_type.startswith("text/html"):
        headers["content-security-policy"] = CSP
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


@router.get("/reports/systems/{name}", responses={200: {"content": _CONTENT}})
def system_report(
    name: str,
    actor: Reader,
    c: ContainerDep,
    format: Annotated[Literal["html", "pdf", "json"], Query(description="html, pdf or json.")] = "html",
) -> Response:
    """EU AI Act Annex IV technical documentation of the system; unfilled elements are marked MISSING."""
    _sign_checkpoint(c)
    with c.uow(write=False) as uow:
        report = service.system_report(uow, actor, name, monitoring=c.reports_monitoring)
    return _response(service.render_system(report, format, chromium=c.settings.chromium), download=format == "pdf")


@router.get("/reports/compliance", response_model=ComplianceSummary, responses={200: {"content": {"text/html": {}}}})
def compliance(
    actor: Reader,
    c: ContainerDep,
    format: Annotated[Literal["html", "json"], Query(description="json or html.")] = "json",
) -> Response:
    """Per system: tier, license states, latest verdict, open re-audits, breaches, provenance, sign-offs."""
    with c.uow(write=False) as uow:
        rendered = service.compliance(uow, actor, format, monitoring=c.reports_monitoring)
    return _response(rendered, download=False)


def _stream(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        spool.seek(0)
        while block := spool.read(1 << 16):
            yield block
    finally:
        spool.close()


@router.get("/reports/systems/{name}/pack", responses={200: {"content": {"application/zip": {}}}})
def evidence_pack(name: str, actor: Reader, c: ContainerDep) -> StreamingResponse:
    """A zip an auditor verifies offline (charter report verify-pack): report, assessments, tokens, audit export."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # closed by _stream
    try:
        result = service.write_pack(
            c.uow, actor, name, spool, audit=c.audit_log, issuer=issuer_for(c), monitoring=c.reports_monitoring
        )
    except BaseException:
        spool.close()
        raise
    headers = {
        "content-disposition": f'attachment; filename="{name}-evidence-{result.pack_id}.zip"',
        "cache-control": "no-store",
        "charter-pack": result.pack_id,
    }
    return StreamingResponse(_stream(spool), media_type="application/zip", headers=headers)
