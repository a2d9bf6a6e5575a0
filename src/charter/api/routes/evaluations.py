"""Evaluations (client-computed evidence) and assessments against the active policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.core.pages import Page, paginate
from charter.evaluation import service
from charter.evaluation.schemas import (
    AssessmentCreate,
    AssessmentDetail,
    AssessmentRead,
    EvaluationCreate,
    EvaluationRead,
    EvaluationResult,
)

router = APIRouter(tags=["evaluation"])

Run = Annotated[Actor, Depends(Authz(P.EVALUATION_RUN))]
Read = Annotated[Actor, Depends(Authz(P.EVALUATION_READ))]
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


@router.post("/systems/{system}/versions/{version}/evaluations", status_code=201)
def submit_evaluation(
    system: str, version: str, body: EvaluationCreate, actor: Run, c: ContainerDep
) -> EvaluationResult:
    """Store evidence computed on the client, assess it with the active policies; the verdict is in `assessment`."""
    with c.uow() as uow:
        return service.submit_evaluation(uow, actor, f"{system}@{version}", body)


@router.get("/systems/{system}/versions/{version}/evaluations")
def list_evaluations(
    system: str, version: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[EvaluationRead]:
    """Evaluations of a model version, newest first."""
    with c.uow(write=False) as uow:
        return paginate(service.list_evaluations(uow, actor, f"{system}@{version}"), cursor, limit)


@router.post("/systems/{system}/versions/{version}/assessments", status_code=201)
def reassess(
    system: str, version: str, actor: Run, c: ContainerDep, body: AssessmentCreate | None = None
) -> AssessmentDetail:
    """Assess a model version again with the active policies (its latest evaluation, the catalog as it is now)."""
    with c.uow() as uow:
        return service.reassess(uow, actor, f"{system}@{version}", body)


@router.get("/systems/{system}/versions/{version}/assessments")
def list_assessments(
    system: str, version: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT
) -> Page[AssessmentRead]:
    """Assessments of a model version, newest first."""
    with c.uow(write=False) as uow:
        return paginate(service.list_assessments(uow, actor, f"{system}@{version}"), cursor, limit)


@router.get("/assessments/{assessment_id}")
def get_assessment(assessment_id: str, actor: Read, c: ContainerDep) -> AssessmentDetail:
    """One assessment: per-rule verdicts with evidence values, policy set and evidence digests, input digests."""
    with c.uow(write=False) as uow:
        return service.get_assessment(uow, actor, assessment_id)


@router.get("/assessments/{assessment_id}/report.html", response_class=HTMLResponse)
def assessment_report(assessment_id: str, actor: Read, c: ContainerDep) -> HTMLResponse:
    """The assessment as a self-contained HTML report."""
    with c.uow(write=False) as uow:
        html = service.assessment_report(uow, actor, assessment_id, "html")
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"})
