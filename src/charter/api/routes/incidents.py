"""Serious incidents (EU AI Act Art. 73): report with a computed deadline, list by deadline, show, close."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.core.pages import Page, paginate
from charter.incidents import service
from charter.incidents.schemas import IncidentClose, IncidentCreate, IncidentRead
from charter.reports import pdf
from charter.reports.incident import incident_html
from charter.reports.render import CSP

router = APIRouter(tags=["incidents"])

Write = Annotated[Actor, Depends(Authz(P.MONITOR_WRITE))]
Read = Annotated[Actor, Depends(Authz(P.MONITOR_READ))]
Reader = Annotated[Actor, Depends(Authz(P.REPORT_READ))]


@router.post("/systems/{name}/incidents", status_code=201)
def report_incident(name: str, body: IncidentCreate, actor: Write, c: ContainerDep) -> IncidentRead:
    """Record a serious incident: the Art. 73 deadline and authority; `suspend` suspends the system's licenses."""
    with c.uow() as uow:
        return service.report(
            uow, actor, name, body, holidays=c.settings.holiday_dates, authority=c.settings.incident_authority
        )


@router.get("/incidents")
def list_incidents(
    actor: Read,
    c: ContainerDep,
    status: Annotated[str | None, Query(description="open | closed")] = None,
    system: Annotated[str | None, Query(description="Only this system's incidents")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[IncidentRead]:
    """Incidents, soonest reporting deadline first."""
    with c.uow(write=False) as uow:
        return paginate(service.list_all(uow, actor, status=status, system=system), cursor, limit)


@router.get("/incidents/{incident_id}")
def show_incident(incident_id: str, actor: Read, c: ContainerDep) -> IncidentRead:
    """One incident."""
    with c.uow(write=False) as uow:
        return service.get(uow, actor, incident_id)


@router.post("/incidents/{incident_id}/close")
def close_incident(incident_id: str, body: IncidentClose, actor: Write, c: ContainerDep) -> IncidentRead:
    """Close an incident once reported and handled (audited)."""
    with c.uow() as uow:
        return service.close(uow, actor, incident_id, body)


def _report_html(c: Container, actor: Actor, incident_id: str) -> str:
    with c.uow(write=False) as uow:
        incident = service.get(uow, actor, incident_id)
        system = catalog.show_system(uow, actor, incident.system)
        versions = [{"ref": v.ref, "digest": v.digest} for v in catalog.list_model_versions(uow, actor, system.name)]
    return incident_html(incident.model_dump(mode="json"), system, versions)


@router.get("/incidents/{incident_id}/report.html", response_class=HTMLResponse)
def incident_report(incident_id: str, actor: Reader, c: ContainerDep) -> HTMLResponse:
    """The Art. 73 report as a printable HTML page, filled from Charter's records (unknown fields: MISSING)."""
    html = _report_html(c, actor, incident_id)
    return HTMLResponse(html, headers={"content-security-policy": CSP, "cache-control": "no-store"})


@router.get("/incidents/{incident_id}/report.pdf", responses={200: {"content": {"application/pdf": {}}}})
def incident_report_pdf(incident_id: str, actor: Reader, c: ContainerDep) -> Response:
    """The Art. 73 report as PDF (headless Chromium, as the Annex IV dossier; 503 pdf_renderer_unavailable without)."""
    body = pdf.html_to_pdf(_report_html(c, actor, incident_id), chromium=c.settings.chromium)
    headers = {
        "content-disposition": f'attachment; filename="{incident_id}-art-73.pdf"',
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    return Response(body, media_type="application/pdf", headers=headers)
