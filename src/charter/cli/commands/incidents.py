"""incident report|list|show|close: serious incidents (EU AI Act Art. 73) and their reporting deadlines."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from charter.cli.client import Api
from charter.cli.output import emit, table

incident_app = typer.Typer(help="Serious incidents (EU AI Act Art. 73): reporting deadlines and the authority.")

KINDS = "death | serious_harm | critical_infrastructure | fundamental_rights | property_environment"


def _line(doc: dict[str, Any]) -> str:
    suspended = doc["suspended_licenses"]
    extra = f"; suspended {len(suspended)} license(s): {', '.join(suspended)}" if suspended else ""
    return (
        f"incident {doc['id']} on {doc['system']} ({doc['kind']}): report to the {doc['authority']} by "
        f"{doc['last_day']} (due {doc['due_at']}, {doc['article']}){extra}"
    )


@incident_app.command("report")
def report(
    system: str,
    kind: Annotated[str, typer.Option("--kind", help=KINDS)],
    aware_at: Annotated[
        str,
        typer.Option(
            "--aware-at",
            help="When you became aware, ISO 8601 with your UTC offset (e.g. 2026-12-04T16:00+01:00), or a local "
            "time with --time-zone.",
        ),
    ],
    time_zone: Annotated[
        str | None,
        typer.Option(
            "--time-zone",
            help="IANA time zone where the period is counted (e.g. Europe/Berlin): midnight follows its summer time.",
        ),
    ] = None,
    suspend: Annotated[
        bool, typer.Option("--suspend", help="Suspend every active license of the system now (audited).")
    ] = False,
    widespread: Annotated[
        bool, typer.Option("--widespread", help="A widespread infringement (Art. 3(61)): 2 days (Art. 73(3)).")
    ] = False,
    description: Annotated[str, typer.Option("--description", help="What happened, as known now.")] = "",
    member_state: Annotated[
        str | None, typer.Option("--member-state", help="EU/EEA Member State where it occurred (code, e.g. DE, EL).")
    ] = None,
) -> None:
    """Record a serious incident and compute its Art. 73 reporting deadline."""
    body = {
        "kind": kind,
        "aware_at": aware_at,
        "time_zone": time_zone,
        "suspend": suspend,
        "widespread": widespread,
        "description": description,
        "member_state": member_state,
    }
    doc = Api().post(f"/systems/{system}/incidents", json=body)
    emit(doc, human=_line(doc) + f"\n{doc['deadline_note']}")


@incident_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="open | closed")] = None,
    system: Annotated[str | None, typer.Option("--system", help="Only this system's incidents.")] = None,
) -> None:
    """Incidents, soonest reporting deadline first."""
    params = {k: v for k, v in {"status": status, "system": system}.items() if v}
    table(
        Api().get_all("/incidents", params=params),
        ["id", "system", "kind", "status", "last_day", "article", "overdue"],
    )


@incident_app.command("show")
def show(incident_id: str) -> None:
    """One incident."""
    doc = Api().get(f"/incidents/{incident_id}")
    lines = [
        _line(doc),
        doc["deadline_note"],
        f"status: {doc['status']}" + (" (OVERDUE)" if doc.get("overdue") else ""),
        f"aware at: {doc['aware_at']}; reported by {doc['reported_by']} at {doc['created_at']}",
        f"member state: {doc.get('member_state') or 'not recorded'}",
        f"description: {doc.get('description') or '-'}",
    ]
    if doc.get("closed_at"):
        lines.append(f"closed by {doc['closed_by']} at {doc['closed_at']}: {doc['closing_note']}")
    lines.append(
        f"Art. 73 report: GET /api/v1/incidents/{doc['id']}/report.html (dashboard: /incidents/{doc['id']}/report)"
    )
    emit(doc, human="\n".join(lines))


@incident_app.command("close")
def close(
    incident_id: str, note: Annotated[str, typer.Option("--note", help="How it was reported and handled.")]
) -> None:
    """Close an incident once reported to the authority and handled."""
    doc = Api().post(f"/incidents/{incident_id}/close", json={"note": note})
    emit(doc, human=f"closed incident {doc['id']} on {doc['system']}")


def register(app: typer.Typer) -> None:
    app.add_typer(incident_app, name="incident", no_args_is_help=True)
