"""Evaluations (evidence the server computes from uploaded predictions, or self-reported by the client) and
assessments against the active policies."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.bootstrap import Container
from charter.core.errors import ErrorCode, InvalidInput, TooLarge
from charter.core.pages import Page, paginate
from charter.evaluation import service
from charter.evaluation.compute import ComputeOptions, predictions_evidence
from charter.evaluation.schemas import (
    AssessmentCreate,
    AssessmentDetail,
    AssessmentRead,
    EvaluationCreate,
    EvaluationRead,
    EvaluationResult,
    InputFile,
    UploadMeta,
)

router = APIRouter(tags=["evaluation"])

Run = Annotated[Actor, Depends(Authz(P.EVALUATION_RUN))]
Read = Annotated[Actor, Depends(Authz(P.EVALUATION_READ))]
UPLOAD_SUFFIX = "/evaluations/upload"  # the server's body-size middleware leaves these to the route (its own limit)
CHUNK = 1 << 20
META_MAX = 1 << 20  # the options and the artifact scan (its findings)
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["predictions"],
                    "properties": {
                        "predictions": {"type": "string", "format": "binary", "description": "CSV or Parquet"},
                        "meta": {"type": "string", "description": "JSON: options, and optionally scan evidence"},
                    },
                }
            }
        },
    }
}
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _json_body(request: Request) -> None:
    """Runs before the body is validated: a file sent here belongs to the upload route."""
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise InvalidInput(
            "predictions: this route takes figures computed on the client, as JSON; to have the server compute "
            "them, POST the file as multipart to …/evaluations/upload (charter evaluate --upload)",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            field="predictions",
        )


@router.post("/systems/{system}/versions/{version}/evaluations", status_code=201)
def submit_evaluation(
    system: str,
    version: str,
    body: EvaluationCreate,
    actor: Run,
    c: ContainerDep,
    _json: Annotated[None, Depends(_json_body)],  # after the actor: authenticated first
) -> EvaluationResult:
    """Store evidence computed on the client, assess it with the active policies; the verdict is in `assessment`."""
    with c.uow() as uow:
        return service.submit_evaluation(uow, actor, f"{system}@{version}", body)


@router.post("/systems/{system}/versions/{version}" + UPLOAD_SUFFIX, status_code=201, openapi_extra=_UPLOAD_DOC)
async def upload_evaluation(
    system: str, version: str, request: Request, actor: Run, c: ContainerDep
) -> EvaluationResult:
    """Upload the predictions (multipart: `predictions` = CSV or Parquet file, `meta` = JSON options); the server
    computes metrics, fairness and bootstrap intervals with the client's code and assesses them (`computed_by:
    server`). Larger than CHARTER_UPLOAD_MAX_BYTES: 413."""
    ref = f"{system}@{version}"
    limit = c.settings.upload_max_bytes
    await run_in_threadpool(_check_upload, c, actor, ref)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(_too_large(limit), field="predictions", details={"limit": limit})
    with tempfile.TemporaryDirectory(prefix="charter-upload-") as tmp:
        meta, saved = await _read_upload(request, limit, Path(tmp))
        options = _options(meta)
        sections, rows = await run_in_threadpool(predictions_evidence, saved["path"], options)
        predictions = InputFile(name=saved["name"], sha256=saved["sha256"], size=saved["size"], rows=rows)
        result: EvaluationResult = await run_in_threadpool(
            _submit_computed, c, actor, ref, sections, predictions, options, meta
        )
    return result


def _check_upload(c: Container, actor: Actor, ref: str) -> None:
    with c.uow(write=False) as uow:
        service.check_upload(uow, actor, ref)


def _submit_computed(
    c: Container,
    actor: Actor,
    ref: str,
    sections: dict[str, Any],
    predictions: InputFile,
    options: ComputeOptions,
    meta: UploadMeta,
) -> EvaluationResult:
    with c.uow() as uow:
        return service.submit_computed(uow, actor, ref, sections, predictions, options, meta)


def _too_large(limit: int) -> str:
    return f"upload exceeds {limit} bytes (CHARTER_UPLOAD_MAX_BYTES); evaluate a sample, or raise the limit"


def _options(meta: UploadMeta) -> ComputeOptions:
    o = meta.options
    defaults = ComputeOptions()
    return ComputeOptions(
        label=o.label or defaults.label,
        prediction=o.prediction or defaults.prediction,
        score=o.score,
        sensitive=tuple(o.sensitive),
        positive_label=o.positive_label,
        bootstrap_resamples=defaults.bootstrap_resamples if o.bootstrap_resamples is None else o.bootstrap_resamples,
    )


def _safe_name(name: str | None) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name or "").name).lstrip(".")[:120]
    return base or "predictions"


async def _read_upload(request: Request, limit: int, folder: Path) -> tuple[UploadMeta, dict[str, Any]]:
    """The `meta` and `predictions` parts; the file is written to `folder` under its own name (errors name it),
    hashed on the way; more than `limit` bytes in all: 413."""
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise InvalidInput(
            f"Content-Type: '{ctype[:80]}' is not multipart/form-data; send the file as the part 'predictions'",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            field="predictions",
        )
    received = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(_too_large(limit), field="predictions", details={"limit": limit})
        return message

    try:  # two file parts at most, so that `meta` sent as a file is named below rather than "too many files"
        form = await Request(request.scope, counted).form(max_files=2, max_fields=1, max_part_size=META_MAX)
    except HTTPException as exc:  # Starlette's multipart limits: too many parts, or a text part over META_MAX
        part = "predictions" if "files" in str(exc.detail) else "meta"
        raise InvalidInput(
            f"{part}: {exc.detail} The upload is the file part 'predictions' and at most the JSON text part 'meta' "
            f"(up to {META_MAX} bytes)",
            field=part,
        ) from None
    try:
        if len(form.getlist("predictions")) > 1:
            raise InvalidInput("predictions: send one file as the part 'predictions', not several", field="predictions")
        upload = form.get("predictions")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("predictions: the file part 'predictions' is missing", field="predictions")
        raw_meta = form.get("meta") or "{}"
        if not isinstance(raw_meta, str):
            raise InvalidInput("meta: must be a JSON text field, not a file", field="meta")
        try:
            meta = UploadMeta.model_validate_json(raw_meta)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(["meta", *(str(p) for p in first["loc"])])  # an unparsable text has no loc
            raise InvalidInput(f"{where}: {first['msg']}", field=where) from None
        name = _safe_name(upload.filename)
        path = folder / name
        digest, size = hashlib.sha256(), 0
        with path.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidInput(f"predictions: {name} is empty", field="predictions")
        return meta, {"path": path, "name": name, "sha256": digest.hexdigest(), "size": size}
    finally:
        await form.close()


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
