"""Policies (versioned by digest), rule-level diffs and control coverage."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.core.errors import InvalidInput
from charter.core.pages import Page, paginate
from charter.policies import service
from charter.policies.schemas import (
    FILENAME_PATTERN,
    CoverageDetail,
    CoverageSummary,
    PolicyAdded,
    PolicyCreate,
    PolicyDeactivate,
    PolicyDetail,
    PolicyDiff,
    PolicyRead,
)

router = APIRouter(tags=["policies"])

Read = Annotated[Actor, Depends(Authz(P.POLICY_READ))]
Write = Annotated[Actor, Depends(Authz(P.POLICY_WRITE))]
YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": PolicyCreate.model_json_schema()},
        },
    }
}


def _create(body: bytes, content_type: str, filename: str | None) -> PolicyCreate:
    try:
        if content_type.split(";")[0].strip().lower() == "application/json":
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise InvalidInput("body: expected an object {source, filename}", field="source")
            if filename is not None:
                doc.setdefault("filename", filename)
            return PolicyCreate.model_validate(doc)
        text = body.decode("utf-8-sig")
        return PolicyCreate(source=text, filename=filename or "policy.yaml")
    except UnicodeDecodeError:
        raise InvalidInput("body: the policy must be UTF-8 text", field="source") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"body: invalid JSON: {exc}", field="source") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "source"
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None


@router.post("/policies", status_code=201, openapi_extra=YAML_BODY)
async def add_policy(
    request: Request,
    response: Response,
    actor: Write,
    c: ContainerDep,
    filename: Annotated[str | None, Query(pattern=FILENAME_PATTERN, description="Shown in error positions.")] = None,
) -> PolicyAdded:
    """Store a policy (YAML body, or JSON {source, filename}); identical content is a no-op (200)."""
    data = _create(await request.body(), request.headers.get("content-type", ""), filename)

    def run() -> PolicyAdded:
        with c.uow() as uow:
            return service.add_policy(uow, actor, source=data.source, filename=data.filename)

    added = await run_in_threadpool(run)
    if added.status == "unchanged":
        response.status_code = 200
    return added


@router.get("/policies")
def list_policies(
    actor: Read,
    c: ContainerDep,
    all: Annotated[bool, Query(description="Every version, not only active.")] = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[PolicyRead]:
    """Built-in baselines and stored policies."""
    with c.uow(write=False) as uow:
        return paginate(service.list_policies(uow, actor, all_versions=all), cursor, limit)


@router.get("/policies/{ref}")
def show_policy(ref: str, actor: Read, c: ContainerDep) -> PolicyDetail:
    """A policy by name (its active version) or digest (7+ hex characters), with rules and YAML source."""
    with c.uow(write=False) as uow:
        return service.show_policy(uow, actor, ref)


@router.get("/policies/{ref}/diff")
def diff_policy(
    ref: str,
    actor: Read,
    c: ContainerDep,
    to: Annotated[
        str | None, Query(max_length=130, description="The newer version (default: ref vs its previous).")
    ] = None,
) -> PolicyDiff:
    """Rule-level diff: added, removed and changed rules."""
    with c.uow(write=False) as uow:
        return service.diff_policies(uow, actor, ref, to)


@router.post("/policies/{name}/deactivate")
def deactivate_policy(name: str, body: PolicyDeactivate, actor: Write, c: ContainerDep) -> PolicyRead:
    """Take a stored policy out of the active set; a built-in baseline it replaced applies again."""
    with c.uow() as uow:
        return service.deactivate_policy(uow, actor, name, body.reason)


@router.get("/controls/coverage")
def controls_coverage(
    actor: Read,
    c: ContainerDep,
    framework: Annotated[str | None, Query(max_length=64, description="e.g. eu-ai-act, gdpr, nist-ai-rmf.")] = None,
    risk_tier: Annotated[str | None, Query(max_length=16)] = None,
) -> CoverageDetail | CoverageSummary:
    """Controls of a framework covered by the active policies (or a summary of every framework)."""
    with c.uow(write=False) as uow:
        report = service.coverage_report(uow, actor, framework=framework, risk_tier=risk_tier)
    if framework is None:
        return CoverageSummary.model_validate(report)
    return CoverageDetail.model_validate(report)
