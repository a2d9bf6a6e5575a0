"""Sign-off inbox: licenses waiting for one of the reviewer's functions; approve or reject with a comment."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from charter.auth.model import Actor, Role
from charter.core.errors import InvalidInput
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseRead, LicenseStatus
from charter.signoffs.schemas import SignOffCreate
from charter.web.handler import Ctx
from charter.web.rendering import Page

DECISIONS = ("approve", "reject")


def functions_of(actor: Actor) -> list[str]:
    """The reviewer functions the actor holds (in any scope; the service checks the scope per license)."""
    return sorted({g.function for g in actor.grants if g.role is Role.REVIEWER and g.function})


def _item(lic: LicenseRead, status: LicenseStatus, mine: list[str], actor: Actor) -> dict[str, Any] | None:
    """An inbox entry when the actor could sign this license now; None when it is not theirs to decide."""
    if lic.requested_by == actor.ref:
        return None
    if any(s.principal == actor.ref and s.stage == status.stage for s in status.signoffs):
        return None
    open_fns = [f for f in status.missing_signoffs if f in mine and f not in status.rejected]
    if not open_fns:
        return None
    return {
        "lic": lic,
        "status": status,
        "functions": open_fns,
        "reinstatement": str(lic.state) == "suspended",
    }


def pending_for(ctx: Ctx, limit: int | None = None) -> list[dict[str, Any]]:
    """Licenses the signed-in reviewer can sign now (requested, or suspended awaiting reinstatement)."""
    mine = functions_of(ctx.actor)
    if not mine:
        return []
    out: list[dict[str, Any]] = []
    with ctx.uow() as uow:
        for state in ("requested", "suspended"):
            for lic in licenses.list_licenses(uow, ctx.actor, state=state):
                item = _item(lic, licenses.status(uow, ctx.actor, lic.id), mine, ctx.actor)
                if item is not None:
                    out.append(item)
                    if limit is not None and len(out) >= limit:
                        return out
    return out


def inbox(ctx: Ctx) -> Page:
    """GET /inbox — what waits for the reviewer, with a decision form for each."""
    items = pending_for(ctx)
    data = {
        "title": "Sign-off inbox",
        "items": items,
        "functions": functions_of(ctx.actor),
        "done": ctx.q("done"),
        "done_id": ctx.q("license"),
        "done_state": ctx.q("state"),
    }
    return Page("inbox.html", data)


def decide(ctx: Ctx) -> Page | Response:
    """POST /inbox/{id} — record an approval or rejection through the licenses service (which authorizes)."""
    license_id = ctx.param("id")
    decision = ctx.form.get("decision", "")
    if decision not in DECISIONS:
        raise InvalidInput("decision must be approve or reject", field="decision")
    function = ctx.form.get("function", "").strip()
    comment = ctx.form.get("comment", "").strip()
    if decision == "reject" and not comment:
        raise InvalidInput("say why you reject: a comment is required", field="comment")
    try:
        body = SignOffCreate.model_validate({"function": function, "decision": decision, "comment": comment})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", field="sign-off") from None
    with ctx.uow(write=True) as uow:
        status = licenses.sign(uow, ctx.actor, license_id, body)
    state = str(status.state)
    if ctx.htmx:
        return Page("_inbox_done.html", {"license_id": license_id, "decision": decision, "state": state})
    target = f"/inbox?done={decision}&license={quote(license_id)}&state={quote(state)}"
    return RedirectResponse(target, status_code=303)
