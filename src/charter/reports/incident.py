"""The Art. 73 serious-incident report as one printable HTML page, filled from Charter's records and the control
catalog. A field Charter holds no record of is shown MISSING; nothing is invented."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from charter import __version__
from charter.catalog import controls
from charter.catalog.schemas import SystemRead
from charter.reports.render import environment

_KIND_POINT = {
    "death": "Art. 3(49)(a)",
    "serious_harm": "Art. 3(49)(a)",
    "critical_infrastructure": "Art. 3(49)(b)",
    "fundamental_rights": "Art. 3(49)(c)",
    "property_environment": "Art. 3(49)(d)",
}


def incident_html(incident: Mapping[str, Any], system: SystemRead, versions: Sequence[Mapping[str, Any]]) -> str:
    """`incident` is an incident's JSON form; `versions` the system's model versions (ref, digest)."""
    control = controls.by_id().get("EUAIA-ART73")
    role = (system.answers.get("context") or {}).get("role") or "both"
    rows: list[tuple[str, Any, str]] = [
        ("Reporter", incident["reported_by"], "who recorded the incident in Charter"),
        ("Reporter's role (Art. 3(3)/(4))", role, ""),
        ("AI system", system.name, ""),
        ("Intended purpose", system.purpose, ""),
        ("Provider / deployer organisation", system.deployer, "charter system update --deployer"),
        ("Risk tier", system.risk_tier, ""),
        ("Annex III point", system.annex_iii_area, "no Annex III point recorded"),
        ("Model versions", [f"{v['ref']} {v['digest']}" for v in versions], "no model version registered"),
        ("EU database registration (Art. 49, 71)", None, "not recorded in Charter"),
        ("Kind of serious incident", f"{incident['kind']} ({_KIND_POINT[incident['kind']]})", ""),
        ("Widespread infringement (Art. 3(61))", bool(incident["widespread"]), ""),
        ("Became aware at", incident["aware_at"], ""),
        ("Member State where it occurred", incident["member_state"], "not recorded (--member-state when reporting)"),
        ("Description", incident["description"], "no description recorded"),
        ("Causal link established or reasonably likely (Art. 73(2))", None, "not recorded in Charter"),
        ("Reporting period", f"{incident['period_days']} days, {incident['article']}", ""),
        ("Report due by (end of)", incident["last_day"], ""),
        ("How the deadline was counted", incident["deadline_note"], ""),
        ("Authority", incident["authority"], ""),
        ("Licenses suspended (corrective action)", incident["suspended_licenses"], "none suspended"),
        ("Status", incident["status"], ""),
        ("Closing note", incident.get("closing_note"), "open"),
    ]
    return (
        environment()
        .get_template("incident.html")
        .render(i=incident, s=system, rows=rows, control=control, version=__version__)
    )
