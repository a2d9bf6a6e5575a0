"""A license's audit entries as a readable timeline: who did what, why, and when (never raw JSON).

Each known action becomes a sentence plus a few labelled facts; an action this module does not know still shows
its details as plain `key: value` text, so nothing recorded is hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from charter.core.errors import CharterError
from charter.licenses.conditions import render as render_condition
from charter.web.rendering import fmt_dt, fmt_num

Facts = list[tuple[str, str]]
Builder = Callable[[Mapping[str, Any]], tuple[str, Facts]]


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the timeline."""

    seq: int
    at: str
    actor: str
    action: str
    outcome: str
    kind: str  # ok | bad | warn | info: the colour of its dot
    title: str
    reason: str = ""
    facts: Facts = field(default_factory=list)
    ts: str = ""  # the entry's RFC 3339 time, for computing with


def text(value: Any) -> str:
    """Any recorded value as plain text: lists joined, mappings as `k=v`, nothing JSON-escaped."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return fmt_num(value)
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return " · ".join(f"{k}: {text(v)}" for k, v in value.items()) or "—"
    return str(value)


def conditions(values: Any) -> str:
    """Stored conditions (`{metric, op, value, action, after}`) in the grammar people write them in."""
    out = []
    for c in values if isinstance(values, list) else []:
        if isinstance(c, Mapping):
            try:
                out.append(render_condition(c))
                continue
            except CharterError:
                pass
        out.append(text(c))
    return "; ".join(out) or "none"


def breach(evidence: Any) -> str:
    """`drift.psi_max = 2.41 (limit < 0.25) on the window 2026-11-01 03:00 → 04:00 UTC, 4,000 rows`."""
    if not isinstance(evidence, Mapping) or evidence.get("metric") is None:
        return ""
    observed = evidence.get("observed")
    shown = fmt_num(observed) if isinstance(observed, int | float) else text(observed)
    out = f"{evidence['metric']} = {shown}"
    if evidence.get("op") is not None and evidence.get("threshold") is not None:
        out += f" (condition: {evidence['metric']} {evidence['op']} {fmt_num(evidence['threshold'])})"
    if evidence.get("window_start"):
        out += f" on the window {fmt_dt(evidence['window_start'])} → {fmt_dt(evidence.get('window_end'))}"
    if isinstance(evidence.get("rows"), int):
        out += f", {evidence['rows']:,} rows"
    return out


def _evidence_facts(d: Mapping[str, Any]) -> Facts:
    ev = d.get("evidence")
    facts: Facts = []
    if d.get("category"):
        facts.append(("About", text(d["category"])))
    found = breach(ev)
    if found:
        facts.append(("Breach", found))
    elif isinstance(ev, Mapping) and ev:
        facts.append(("Evidence", text(ev)))
    return facts


def _request(d: Mapping[str, Any]) -> tuple[str, Facts]:
    facts = [
        ("Model", text(d.get("model"))),
        ("Environment", text(d.get("env"))),
        ("Purposes", text(d.get("purposes"))),
        ("Callers", text(d.get("callers"))),
        ("Validity", f"{text(d.get('days'))} days from activation"),
        ("Conditions", conditions(d.get("conditions"))),
        ("Sign-offs needed", text(d.get("required_signoffs"))),
    ]
    if d.get("tools"):
        facts.insert(4, ("Tools", text(d["tools"])))
    if d.get("renews"):
        facts.append(("Renews", text(d["renews"])))
    return "Requested", facts


def _signoff(decision: str) -> Builder:
    def build(d: Mapping[str, Any]) -> tuple[str, Facts]:
        stage = str(d.get("stage") or "issue")
        where = "" if stage == "issue" else f" (reinstatement stage {stage})"
        verb = "approved" if decision == "approve" else "rejected"
        return f"Sign-off {verb} as {text(d.get('function'))}{where}", []

    return build


def _activate(d: Mapping[str, Any]) -> tuple[str, Facts]:
    facts = [("Valid", f"{fmt_dt(d.get('nbf'))} → {fmt_dt(d.get('exp'))}")]
    if d.get("assessment"):
        facts.append(("Assessment", text(d["assessment"])))
    return "Activated: token signed, gateways admit it", facts


def _monitoring_breach(d: Mapping[str, Any]) -> tuple[str, Facts]:
    facts = [("Breach", breach(d) or text(d.get("condition")))]
    if d.get("action"):
        facts.append(("Action", text(d["action"])))
    return f"Condition breached: {text(d.get('condition'))}", facts


def _only(title: str) -> Builder:
    def build(d: Mapping[str, Any]) -> tuple[str, Facts]:
        del d
        return title, []

    return build


BUILDERS: dict[str, Builder] = {
    "license.request": _request,
    "license.renew": lambda d: ("Requested as a renewal", _request(d)[1]),
    "signoff.approve": _signoff("approve"),
    "signoff.reject": _signoff("reject"),
    "license.approve": lambda d: ("Every required sign-off is in", [("Approved by", text(d.get("approved")))]),
    "license.reject": _only("Rejected"),
    "license.activate": _activate,
    "license.suspend": lambda d: ("Suspended", _evidence_facts(d)),
    "license.reinstate": _only("Reinstated"),
    "license.revoke": lambda d: ("Revoked", _evidence_facts(d)),
    "license.expire": _only("Expired: validity ended"),
    "license.expiry_warning": lambda d: ("Expiry warning sent", [("Expires", fmt_dt(d.get("exp")))]),
    "monitoring.breach": _monitoring_breach,
    "monitoring.action_failed": lambda d: ("Monitoring could not act on a breach", [("Details", text(d))]),
}
KINDS = {
    "license.activate": "ok",
    "license.reinstate": "ok",
    "signoff.approve": "ok",
    "license.approve": "ok",
    "signoff.reject": "bad",
    "license.reject": "bad",
    "license.revoke": "bad",
    "license.suspend": "warn",
    "monitoring.breach": "bad",
    "monitoring.action_failed": "bad",
    "license.expire": "warn",
    "license.expiry_warning": "warn",
}
REASONS = ("reason", "comment")
SKIP = {"from", "to", "version", "state_version", "digest", "conditions_digest", "policy_digest", "jti"}


def event(seq: int, ts: str | datetime, actor: str, action: str, outcome: str, details: Mapping[str, Any]) -> Event:
    """One audit entry as a timeline event."""
    build = BUILDERS.get(action)
    if build is not None:
        title, facts = build(details)
    else:
        title = action
        facts = [(k, text(v)) for k, v in details.items() if k not in SKIP and k not in REASONS and v not in (None, "")]
    reason = next((str(details[k]) for k in REASONS if details.get(k)), "")
    kind = KINDS.get(action, "info") if outcome == "success" else "bad"
    at = fmt_dt(ts, with_seconds=True) if ts else "—"
    raw = ts.isoformat() if isinstance(ts, datetime) else str(ts or "")
    return Event(seq, at, actor, action, outcome, kind, title, reason, facts, raw)
