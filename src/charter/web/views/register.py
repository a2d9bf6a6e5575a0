"""Register an AI system through the questionnaire wizard: one step per part of the EU AI Act screening, a review
of the resulting tier and obligations, then `catalog.register_system` (authorized as for the API)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from charter.auth.model import Permission
from charter.catalog import service as catalog
from charter.catalog.classify import classify
from charter.catalog.schemas import SystemCreate
from charter.core.errors import STATUS, CharterError, ErrorCode, Forbidden
from charter.policies.catalogs import builtin_catalog
from charter.web import wizard
from charter.web.handler import Ctx
from charter.web.rendering import Page

GO = ("next", "back", "register")


def _framework(framework_id: str) -> str:
    try:
        return builtin_catalog().framework(framework_id).title.split(" — ")[0]
    except CharterError:
        return framework_id


def preview(body: SystemCreate) -> dict[str, Any]:
    """What registering these answers would give: tier, reasons, obligations by framework (nothing stored)."""
    result = classify(body.answers)
    groups: dict[str, list[dict[str, str]]] = {}
    for o in result.obligations:
        groups.setdefault(_framework(o.framework), []).append(o.to_dict())
    return {
        "tier": result.tier,
        "reasons": list(result.reasons),
        "gpai": result.gpai,
        "annex_iii_area": result.annex_iii_area,
        "obligations": [{"framework": k, "items": v} for k, v in groups.items()],
        "count": len(result.obligations),
    }


def _page(ctx: Ctx, index: int, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Page:
    all_steps = wizard.steps()
    step = all_steps[index]
    review = None
    if step.id == "review":
        body, problems = wizard.validate(values)
        if body is None:  # a step was skipped or tampered with: show the first step with a problem
            return _page(ctx, min(wizard.step_of(k) for k in problems), values, problems, 422)
        try:
            review = preview(body)
        except CharterError as exc:
            name = wizard.field_name(exc.field)
            return _page(ctx, wizard.step_of(name), values, {name: exc.message}, STATUS[exc.kind])
    carried = {k: v for k, v in values.items() if k not in step.fields and k.removeprefix("q.") not in step.fields}
    data = {
        "title": "Register an AI system",
        "steps": all_steps,
        "index": index,
        "step": step,
        "values": values,
        "carried": carried,
        "errors": errors,
        "review": review,
        "labels": wizard.ABOUT_LABEL,
        "help": wizard.ABOUT_HELP,
    }
    return Page("system_new.html", data, status=status)


def start(ctx: Ctx) -> Page:
    """GET /systems/new — the first step of the wizard."""
    if not ctx.can(Permission.CATALOG_WRITE):
        raise Forbidden(f"{ctx.actor.ref} may not catalog.write", code=ErrorCode.FORBIDDEN)
    return _page(ctx, 0, wizard.values_from({}), {})


def submit(ctx: Ctx) -> Page | Response:
    """POST /systems/new — move between steps (validating the one being left) or register on the last."""
    values = wizard.values_from(ctx.form)
    index = wizard.step_index(ctx.form.get("step", ""))
    go = ctx.form.get("go", "next")
    if go not in GO:
        go = "next"
    if go == "back":
        return _page(ctx, max(0, index - 1), values, {})
    body, errors = wizard.validate(values)
    if go == "next":
        here = {k: v for k, v in errors.items() if wizard.step_of(k) == index}
        if here:
            return _page(ctx, index, values, here, 422)
        return _page(ctx, min(index + 1, len(wizard.steps()) - 1), values, {})
    if body is None:
        return _page(ctx, min(wizard.step_of(k) for k in errors), values, errors, 422)
    try:
        with ctx.uow(write=True) as uow:
            system = catalog.register_system(uow, ctx.actor, body)
    except CharterError as exc:
        name = wizard.field_name(exc.field)
        return _page(ctx, wizard.step_of(name), values, {name: exc.message}, STATUS[exc.kind])
    return RedirectResponse(f"/systems/{quote(system.name)}?done=registered", status_code=303)
