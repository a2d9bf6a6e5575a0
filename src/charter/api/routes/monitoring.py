"""Monitoring: reference profiles, window uploads (sketches computed by the client), status, metric time series,
chart series and breaches. Also wires monitoring into a server process (capture, flush, scheduled checks, reports).

Profiles and sketches of wide models pass the API's general body limit, so the upload routes read their body
themselves, under `MAX_BODY` (compressed, `Content-Encoding: gzip` accepted) and `MAX_JSON` (decompressed).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.bootstrap import Container
from charter.core.errors import ErrorCode, InvalidInput, TooLarge
from charter.core.pages import Page, from_window, paginate, window
from charter.deployments import service as deployments
from charter.monitoring import service
from charter.monitoring import wiring as monitoring_wiring
from charter.monitoring.queries import MAX_LIMIT
from charter.monitoring.schemas import (
    BreachRead,
    CaptureTarget,
    CaptureUpload,
    ChartRead,
    MetricSeries,
    ProfileRead,
    ProfileUpload,
    StatusRead,
    WindowRead,
    WindowUpload,
)
from charter.reports.monitoring import MonitoringSummary, WindowSummary
from charter.storage.uow import UnitOfWork

router = APIRouter(tags=["monitoring"])

Write = Annotated[Actor, Depends(Authz(P.MONITOR_WRITE))]
Read = Annotated[Actor, Depends(Authz(P.MONITOR_READ))]
Call = Annotated[Actor, Depends(Authz(P.INFERENCE_CALL))]
MetricIds = Annotated[list[str] | None, Query(alias="metric", description="Metric ids, e.g. drift.psi_max.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (at most 1000).")]
Windows = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many of the newest windows (at most 1000).")]
OWN_BODY_LIMIT = ("/monitoring/",)  # the server's body-size middleware leaves these paths to the routes below
MAX_BODY = 64 << 20
MAX_JSON = 256 << 20
VERSION = "/monitoring/systems/{system}/versions/{version}"
T = TypeVar("T", bound=BaseModel)


async def _body(request: Request, model: type[T]) -> T:
    """The request body as `model`, read with its own size limits; gzip-encoded bodies are inflated (bounded)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge(f"request body exceeds {MAX_BODY} bytes; send it gzip-compressed (Content-Encoding: gzip)")
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(raw, MAX_JSON)
        except zlib.error as exc:
            raise InvalidInput(f"body is not valid gzip ({exc})", code=ErrorCode.INVALID_ENCODING) from None
        if inflater.unconsumed_tail:
            raise TooLarge(f"decompressed body exceeds {MAX_JSON} bytes")
    elif encoding not in ("", "identity"):
        raise InvalidInput(f"Content-Encoding '{encoding}' is not supported; use gzip", code=ErrorCode.INVALID_ENCODING)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


def _ref(system: str, version: str) -> str:
    return f"{system}@{version}"


def _write(c: Container, fn: Callable[[UnitOfWork], Any]) -> Any:
    with c.uow() as uow:
        return fn(uow)


def _read(c: Container, fn: Callable[[UnitOfWork], Any]) -> Any:
    with c.uow(write=False) as uow:
        return fn(uow)


_UPLOAD_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {}}}}


@router.put(VERSION + "/reference", openapi_extra=_UPLOAD_DOC)
async def set_reference(system: str, version: str, request: Request, actor: Write, c: ContainerDep) -> ProfileRead:
    """Store the reference profile of a model version (built by `charter monitor reference`)."""
    body = await _body(request, ProfileUpload)
    result: ProfileRead = await run_in_threadpool(
        _write, c, lambda uow: service.set_reference(uow, actor, _ref(system, version), body)
    )
    return result


@router.get("/deployments/{name}/capture")
def capture_target(name: str, actor: Call, c: ContainerDep) -> CaptureTarget:
    """For the `charter.guard` SDK: the reference profile to count this deployment's calls against, and the window
    length (so the SDK's windows are the gateway's). Permission: `inference.call` on the deployment, and the caller
    named by a live license of it."""

    with c.uow(write=False) as uow:
        dep = deployments.for_capture(uow, actor, name)
        return service.sdk_target(uow, name, dep.model, dep.digest, c.settings.monitor_window_s)


@router.post("/deployments/{name}/capture", status_code=201)
def submit_capture(name: str, body: CaptureUpload, actor: Call, c: ContainerDep) -> WindowRead:
    """For the `charter.guard` SDK: calls of an in-process model counted into a window sketch (never the payloads),
    merged into the caller's part of that window; the license conditions are checked on it at once."""
    with c.uow() as uow:
        dep = deployments.for_capture(uow, actor, name)
        return service.record_sdk_capture(
            uow, actor, dep.model, dep.digest, dep.env, body, window_s=c.settings.monitor_window_s
        )


@router.get(VERSION + "/reference")
def get_reference(
    system: str, version: str, actor: Read, c: ContainerDep, full: Annotated[bool, Query()] = True
) -> ProfileRead:
    """The reference profile (with the profile document unless full=false)."""
    result: ProfileRead = _read(c, lambda uow: service.get_reference(uow, actor, _ref(system, version), full=full))
    return result


@router.post(VERSION + "/windows", status_code=201, openapi_extra=_UPLOAD_DOC)
async def submit_window(system: str, version: str, request: Request, actor: Write, c: ContainerDep) -> WindowRead:
    """Record a window sketch; its metrics are computed and the license conditions checked at once."""
    body = await _body(request, WindowUpload)
    result: WindowRead = await run_in_threadpool(
        _write,
        c,
        lambda uow: service.submit_window(
            uow, actor, _ref(system, version), body, window_s=c.settings.monitor_window_s
        ),
    )
    return result


@router.get(VERSION + "/windows")
def list_windows(
    system: str, version: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[WindowRead]:
    """Windows of a model version with their metrics and condition checks, newest first (the newest 1000)."""
    start, n = window(cursor, limit, MAX_LIMIT)
    items = _read(c, lambda uow: service.list_windows(uow, actor, _ref(system, version), limit=n))
    return from_window(items, start, limit, MAX_LIMIT)


@router.get(VERSION + "/status")
def status(system: str, version: str, actor: Read, c: ContainerDep) -> StatusRead:
    """The latest window and each live license condition on it: holds, breached or no_data."""
    result: StatusRead = _read(c, lambda uow: service.status(uow, actor, _ref(system, version)))
    return result


@router.get(VERSION + "/metrics")
def metrics(
    system: str, version: str, actor: Read, c: ContainerDep, metric: MetricIds = None, limit: Windows = 100
) -> Page[MetricSeries]:
    """Time series of metric values (all metrics when none is named) over the newest `limit` windows: one page."""
    items = _read(c, lambda uow: service.metric_series(uow, actor, _ref(system, version), metric or [], limit=limit))
    return Page[MetricSeries](items=items)


@router.get(VERSION + "/series")
def series(
    system: str, version: str, actor: Read, c: ContainerDep, metric: MetricIds = None, limit: Windows = 200
) -> ChartRead:
    """Chart data over the newest `limit` windows: window ends, metric series, thresholds and breach markers."""
    return ChartRead.model_validate(
        _read(c, lambda uow: service.series(uow, actor, _ref(system, version), metric or [], limit=limit))
    )


@router.get(VERSION + "/breaches")
def breaches(
    system: str, version: str, actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[BreachRead]:
    """Breached conditions on a model version's windows, newest first (the newest 1000)."""
    start, n = window(cursor, limit, MAX_LIMIT)
    items: list[BreachRead] = _read(c, lambda uow: service.breaches_of(uow, actor, _ref(system, version), limit=n))
    return from_window(items, start, limit, MAX_LIMIT)


@router.get("/monitoring/profiles")
def list_profiles(actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = DEFAULT) -> Page[ProfileRead]:
    """Model versions with a reference profile."""
    return paginate(_read(c, lambda uow: service.list_profiles(uow, actor)), cursor, limit)


@router.get("/monitoring/windows")
def recent_windows(actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = 50) -> Page[WindowRead]:
    """Windows over every monitored model version the caller may read, newest first (the newest 1000)."""
    start, n = window(cursor, limit, MAX_LIMIT)
    return from_window(_read(c, lambda uow: service.list_windows(uow, actor, limit=n)), start, limit, MAX_LIMIT)


@router.get("/monitoring/breaches")
def recent_breaches(actor: Read, c: ContainerDep, cursor: Cursor = None, limit: Limit = 20) -> Page[BreachRead]:
    """Breached conditions over every monitored model version the caller may read, newest first (the newest 1000)."""
    start, n = window(cursor, limit, MAX_LIMIT)
    return from_window(_read(c, lambda uow: service.recent_breaches(uow, actor, limit=n)), start, limit, MAX_LIMIT)


def reports_source(uow: UnitOfWork, system: str) -> MonitoringSummary | None:
    """`charter.reports.monitoring.MonitoringSource`: monitoring's per-system summary in reports' shapes."""
    found = service.summary(uow, system)
    if found is None:
        return None
    windows = [
        WindowSummary(
            model=w["model"],
            start=w["start"],
            end=w["end"],
            rows=w["rows"],
            metrics=w["metrics"],
            breaches=tuple(w["breaches"]),
        )
        for w in found["windows"]
    ]
    return MonitoringSummary(profiles=tuple(found["profiles"]), windows=tuple(windows))


def wire(container: Container, *, scheduler: bool = True) -> None:
    """Monitoring in this process: the reports source, gateway capture, the flush loop and (with `scheduler`) the
    scheduled condition check."""
    container.reports_monitoring = reports_source
    monitoring_wiring.wire(container, scheduler=scheduler)
