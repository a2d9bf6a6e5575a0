"""License forms: request a license, and suspend / reinstate / revoke one with a reason.

Each form is validated by the API's own schema (`LicenseCreate`, `StateChange`) and handed to the licenses service,
which authorizes exactly as for the API; a refusal re-shows the form with the message next to its field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from charter.auth import service as auth_service
from charter.auth.model import Permission
from charter.catalog import service as catalog
from charter.core.errors import STATUS, CharterError, ErrorCode, ErrorKind, Forbidden, InvalidInput
from charter.licenses import policy as license_policy
from charter.licenses import service as licenses
from charter.licenses.model import StateAction
from charter.licenses.schemas import LicenseCreate, StateChange
from charter.web import forms
from charter.web.handler import Ctx
from charter.web.rendering import Page
from charter.web.views.licenses import detail_data

REQUEST_FIELDS = ("model", "env", "purposes", "callers", "tools", "regions", "days", "conditions")
ACTIONS = tuple(a.value for a in StateAction)
# Service errors that name no field but clearly belong to one.
BY_CODE = {"principal_not_found": "callers", "model_version_not_found": "model", "system_not_found": "model"}


def _models(ctx: Ctx) -> list[dict[str, Any]]:
    """Model versions the actor may read that could be licensed (not retired, system not prohibited)."""
    with ctx.uow() as uow:
        systems = {s.name: s for s in catalog.list_systems(uow, ctx.actor)}
        versions = catalog.list_model_versions(uow, ctx.actor)
    out = []
    for v in versions:
        system = systems.get(v.system)
        if system is None or v.retired_at is not None or system.risk_tier == "prohibited":
            continue
        out.append({"ref": v.ref, "tier": system.risk_tier, "personal_data": system.personal_data})
    return sorted(out, key=lambda m: m["ref"])


def _apps(ctx: Ctx) -> list[str]:
    """App names to suggest as callers (only for actors who may list principals)."""
    if not ctx.can(Permission.PRINCIPAL_READ):
        return []
    try:
        with ctx.uow() as uow:
            return [f"app:{p.name}" for p in auth_service.list_principals(uow, ctx.actor, kind="app") if not p.disabled]
    except Forbidden:
        return []


def _tiers(ctx: Ctx) -> list[dict[str, Any]]:
    """What each licensable tier requires (sign-offs, validity cap), to explain the form."""
    with ctx.uow() as uow:
        rules = license_policy.licensing(uow)
    out = []
    for name, req in rules.tiers.items():
        if req.licensable:
            extra = (
                f" (+ {', '.join(req.personal_data_signoffs)} with personal data)" if req.personal_data_signoffs else ""
            )
            out.append({"tier": name, "signoffs": ", ".join(req.signoffs) + extra, "days": req.max_validity_days})
    return out


def _request_page(ctx: Ctx, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Page:
    data = {
        "title": "Request a license",
        "models": _models(ctx),
        "apps": _apps(ctx),
        "tiers": _tiers(ctx),
        "values": values,
        "errors": errors,
    }
    return Page("license_new.html", data, status=status)


def request_form(ctx: Ctx) -> Page:
    """GET /licenses/new — the request form (`?model=SYSTEM@VERSION` preselects the model)."""
    if not ctx.can(Permission.LICENSE_REQUEST):
        raise Forbidden(f"{ctx.actor.ref} may not license.request", code=ErrorCode.FORBIDDEN)
    values = dict.fromkeys(REQUEST_FIELDS, "")
    values.update(model=ctx.q("model"), env=ctx.q("env") or "staging", days=ctx.q("days") or "90")
    return _request_page(ctx, values, {})


def _callers(raw: str) -> list[str]:
    """`helpdesk` means the app `app:helpdesk`; anything with a kind prefix is passed on for the service to judge."""
    return [c if ":" in c else f"app:{c}" for c in forms.split_list(raw)]


def parse_request(values: dict[str, str]) -> LicenseCreate:
    """The request form as the API's LicenseCreate (ValidationError / InvalidInput naming the field)."""
    days = values.get("days", "").strip()
    if not days.isdigit():
        raise InvalidInput(f"validity must be a whole number of days, got '{days[:20]}'", field="days")
    body = {
        "model": values.get("model", "").strip(),
        "env": values.get("env", "").strip(),
        "purposes": forms.split_list(values.get("purposes", "")),
        "callers": _callers(values.get("callers", "")),
        "tools": forms.split_list(values.get("tools", "")),
        "regions": forms.split_list(values.get("regions", "")),
        "days": int(days[:6]),
        "conditions": forms.lines(values.get("conditions", "")),
    }
    return LicenseCreate.model_validate(body)


def request_submit(ctx: Ctx) -> Page | Response:
    """POST /licenses/new — request through the licenses service; the form again with errors if refused."""
    values = {k: ctx.form.get(k, "") for k in REQUEST_FIELDS}
    try:
        body = parse_request(values)
    except ValidationError as exc:
        return _request_page(ctx, values, forms.pydantic_errors(exc, REQUEST_FIELDS), 422)
    except InvalidInput as exc:
        return _request_page(ctx, values, forms.domain_error(exc, REQUEST_FIELDS), 422)
    try:
        with ctx.uow(write=True) as uow:
            lic = licenses.request(uow, ctx.actor, body)
    except CharterError as exc:
        exc.field = exc.field or BY_CODE.get(exc.code)
        return _request_page(ctx, values, forms.domain_error(exc, REQUEST_FIELDS), STATUS[exc.kind])
    return RedirectResponse(f"/licenses/{quote(lic.id)}?done=requested", status_code=303)


def change(ctx: Ctx) -> Page | Response:
    """POST /licenses/{id}/{action} — suspend, reinstate or revoke with a reason (the licenses service decides)."""
    license_id, action = ctx.param("id"), ctx.param("action")
    if action not in ACTIONS:
        raise InvalidInput(f"unknown license action '{action[:20]}': suspend, reinstate or revoke", field="action")
    values = {"reason": ctx.form.get("reason", "").strip(), "category": ctx.form.get("category", "").strip()}
    version = ctx.form.get("expected_version", "").strip()
    errors: dict[str, str] = {}
    status = 422
    try:
        body = StateChange.model_validate(
            {
                "reason": values["reason"],
                "category": values["category"] or None if action == "suspend" else None,
                "expected_version": int(version) if version.isdigit() else None,
            }
        )
        with ctx.uow(write=True) as uow:
            licenses.change_state(uow, ctx.actor, license_id, StateAction(action), body)
    except ValidationError as exc:
        errors = forms.pydantic_errors(exc, ("reason", "category"))
        if "reason" in errors and not values["reason"]:
            errors["reason"] = f"say why you {action} this license: a reason is required"
    except CharterError as exc:
        if exc.kind in (ErrorKind.FORBIDDEN, ErrorKind.NOT_FOUND):
            raise  # no form to show it next to: the error page says it
        errors, status = forms.domain_error(exc, ("reason", "category")), STATUS[exc.kind]
    if not errors:
        return RedirectResponse(f"/licenses/{quote(license_id)}?done={action}", status_code=303)
    data = detail_data(ctx, license_id)
    data.update(errors={action: errors}, values={action: values})
    if action not in data["actions"]:  # the license moved on meanwhile: say so above everything
        data["failed"] = "; ".join(errors.values())
    return Page("license.html", data, status=status)
