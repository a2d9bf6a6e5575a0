"""Sign-off inbox: licenses waiting for one of the reviewer's functions, with what a reviewer must weigh — the
license's conditions, the assessment and its failing rules, provenance gaps, and for a reinstatement the breach
that caused the suspension — then approve, or reject with a comment."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from charter.auth.authorize import allowed
from charter.auth.model import Actor, Permission, Role
from charter.catalog import service as catalog
from charter.core.errors import CharterError, Forbidden, InvalidInput, NotFound
from charter.deployments import approvals
from charter.evaluation import service as evaluation
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseRead, LicenseStatus
from charter.monitoring import service as monitoring
from charter.signoffs.schemas import SignOffCreate
from charter.web import history
from charter.web.handler import Ctx
from charter.web.labels import label
from charter.web.rendering import Page
from charter.web.views.licenses import conditions_text, events

DECISIONS = ("approve", "reject")
TOOL_DECISIONS = ("approve", "deny")
FAILING_SHOWN = 10
ACKNOWLEDGE = "breach-reviewed"


def functions_of(actor: Actor) -> list[str]:
    """The reviewer functions the actor holds (in any scope; the service checks the scope per license)."""
    return sorted({g.function for g in actor.grants if g.role is Role.REVIEWER and g.function})


def _open_functions(lic: LicenseRead, status: LicenseStatus, mine: list[str], actor: Actor) -> list[str]:
    """The actor's functions this license still waits for (none when it is not theirs to decide)."""
    if lic.requested_by == actor.ref:
        return []
    if any(s.principal == actor.ref and s.stage == status.stage for s in status.signoffs):
        return []
    return [f for f in status.missing_signoffs if f in mine and f not in status.rejected]


def _assessment(ctx: Ctx, status: LicenseStatus) -> dict[str, Any] | None:
    """The latest assessment of the digest with its failing rules (blockers first)."""
    found = status.assessment
    if not found:
        return None
    out: dict[str, Any] = {"id": found.get("id"), "verdict": found.get("verdict"), "failing": [], "counts": {}}
    try:
        with ctx.uow() as uow:
            detail = evaluation.get_assessment(uow, ctx.actor, str(found.get("id")))
    except (Forbidden, NotFound):
        return out
    failing = [r for r in detail.results if r.verdict == "fail"]
    failing.sort(key=lambda r: (r.severity != "blocker", r.severity != "major", r.rule_id))
    out["failing"] = failing[:FAILING_SHOWN]
    out["more"] = max(0, len(failing) - FAILING_SHOWN)
    out["counts"] = dict(detail.counts)
    return out


def _provenance(ctx: Ctx, lic: LicenseRead) -> dict[str, Any] | None:
    """Whether the model version's data lineage is complete, and its gaps."""
    try:
        with ctx.uow() as uow:
            graph = catalog.lineage_of(uow, ctx.actor, lic.model)
    except (Forbidden, NotFound):
        return None
    return {"complete": graph.provenance.complete, "issues": graph.provenance.issues, "datasets": len(graph.datasets)}


def _suspension(ctx: Ctx, lic: LicenseRead) -> dict[str, Any]:
    """What caused the suspension a reinstatement would undo: the suspend entry of the history (who, when, why,
    evidence), else the newest monitoring breach that fired on this license."""
    out: dict[str, Any] = {"reason": lic.reason or "", "category": lic.reason_category or "", "facts": []}
    found = events(ctx, lic.id, newest_first=True) or []
    suspended = next((e for e in found if e.action == "license.suspend"), None)
    if suspended is not None:
        out.update(at=suspended.at, by=suspended.actor, facts=suspended.facts)
    if not any(k == "Breach" for k, _ in out["facts"]):
        try:
            with ctx.uow() as uow:
                breaches = monitoring.breaches_of(uow, ctx.actor, lic.model, limit=50)
        except (Forbidden, NotFound):
            breaches = []
        fired = next((b for b in breaches if b.license == lic.id and b.fired), None)
        if fired is not None:
            text = history.breach(
                {
                    "metric": fired.metric,
                    "observed": fired.value,
                    "op": fired.condition.split(" ", 2)[1] if " " in fired.condition else None,
                    "threshold": fired.threshold,
                    "window_start": fired.start.isoformat(),
                    "window_end": fired.end.isoformat(),
                }
            )
            out["facts"] = [*out["facts"], ("Breach", text), ("Condition", fired.condition)]
    out["monitoring"] = f"/monitoring/{quote(lic.system)}/{quote(lic.model_version)}"
    return out


def _item(ctx: Ctx, lic: LicenseRead, status: LicenseStatus, functions: list[str]) -> dict[str, Any]:
    reinstatement = str(lic.state) == "suspended"
    return {
        "lic": lic,
        "name": label(lic),
        "status": status,
        "functions": functions,
        "reinstatement": reinstatement,
        "conditions": conditions_text(lic.conditions),
        "assessment": _assessment(ctx, status),
        "provenance": _provenance(ctx, lic),
        "suspension": _suspension(ctx, lic) if reinstatement else None,
    }


def pending_for(ctx: Ctx, limit: int | None = None, *, details: bool = True) -> list[dict[str, Any]]:
    """Licenses the signed-in reviewer can sign now (requested, or suspended awaiting reinstatement)."""
    mine = functions_of(ctx.actor)
    if not mine:
        return []
    waiting: list[tuple[LicenseRead, LicenseStatus, list[str]]] = []
    with ctx.uow() as uow:
        for state in ("requested", "suspended"):
            for lic in licenses.list_licenses(uow, ctx.actor, state=state):
                status = licenses.status(uow, ctx.actor, lic.id)
                functions = _open_functions(lic, status, mine, ctx.actor)
                if functions:
                    waiting.append((lic, status, functions))
                if limit is not None and len(waiting) >= limit:
                    break
    if not details:
        return [{"lic": lic, "status": status, "functions": fns} for lic, status, fns in waiting]
    return [_item(ctx, lic, status, fns) for lic, status, fns in waiting]


def tool_approvals(ctx: Ctx) -> list[approvals.ApprovalRead]:
    """Pending tool-call approvals (MCP `tools/call`, OpenAI tool calls, `guard.tool_call`) the signed-in user may
    decide: the approver the license names (`role:NAME`), never the agent's own call."""
    if not allowed(ctx.actor, Permission.TOOL_APPROVE):
        return []
    with ctx.uow() as uow:
        pending = approvals.list_all(uow, ctx.actor, "pending")
    return [a for a in pending if approvals.may_approve(ctx.actor, a.approver) and a.agent != ctx.actor.ref]


def inbox(ctx: Ctx) -> Page:
    """GET /inbox — what waits for the reviewer, with what to weigh and a decision form for each."""
    done = None
    if ctx.q("done") in DECISIONS and ctx.q("license"):
        try:  # what the license is now, from the service (never from the query string)
            with ctx.uow() as uow:
                lic = licenses.get(uow, ctx.actor, ctx.q("license"))
            done = {"decision": ctx.q("done"), "id": lic.id, "name": label(lic), "state": str(lic.state)}
        except CharterError:
            done = None
    decided = None
    if ctx.q("approval") and ctx.q("done") in TOOL_DECISIONS:
        try:  # the approval as stored now (never from the query string)
            with ctx.uow() as uow:
                found = approvals.get(uow, ctx.actor, ctx.q("approval"))
            decided = {"id": found.id, "state": found.state, "tool": f"{found.deployment}:{found.tool}"}
        except CharterError:
            decided = None
    data = {
        "title": "Sign-off inbox",
        "items": pending_for(ctx),
        "tool_approvals": tool_approvals(ctx),
        "decided": decided,
        "functions": functions_of(ctx.actor),
        "done": done,
        "acknowledge": ACKNOWLEDGE,
    }
    return Page("inbox.html", data)


def _checked(ctx: Ctx, license_id: str, decision: str, comment: str) -> None:
    """A reinstatement is never one click: approving one needs the breach acknowledged and a comment."""
    if decision != "approve":
        return
    with ctx.uow() as uow:
        lic = licenses.get(uow, ctx.actor, license_id)
    if str(lic.state) != "suspended":
        return
    if ctx.form.get("acknowledge") != ACKNOWLEDGE:
        raise InvalidInput(
            "reinstating a suspended license: confirm that you reviewed the breach that suspended it",
            field="acknowledge",
        )
    if not comment:
        raise InvalidInput("reinstating a suspended license: say in the comment why it is safe again", field="comment")


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
    _checked(ctx, license_id, decision, comment)
    try:
        body = SignOffCreate.model_validate({"function": function, "decision": decision, "comment": comment})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", field="sign-off") from None
    with ctx.uow(write=True) as uow:
        status = licenses.sign(uow, ctx.actor, license_id, body)
        lic = licenses.get(uow, ctx.actor, license_id)
    state = str(status.state)
    if ctx.htmx:
        data = {"license_id": license_id, "name": label(lic), "decision": decision, "state": state}
        return Page("_inbox_done.html", data)
    target = f"/inbox?done={decision}&license={quote(license_id)}"
    return RedirectResponse(target, status_code=303)


def decide_tool(ctx: Ctx) -> Response:
    """POST /inbox/approvals/{id} — approve (a single-use grant for exactly that call) or deny a tool call, through
    the approvals service (which checks that the user is the approver the license names)."""
    approval_id = ctx.param("id")
    decision = ctx.form.get("decision", "")
    if decision not in TOOL_DECISIONS:
        raise InvalidInput("decision must be approve or deny", field="decision")
    comment = ctx.form.get("comment", "").strip()[:500]
    with ctx.uow(write=True) as uow:
        approvals.decide(uow, ctx.actor, approval_id, approve=decision == "approve", reason=comment)
    return RedirectResponse(f"/inbox?done={decision}&approval={quote(approval_id)}", status_code=303)
