"""approval list|show|approve|deny: agents' tool calls that wait for a human."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from charter.cli.client import Api
from charter.cli.output import emit, table

approval_app = typer.Typer(help="Approvals: agents' tool calls a license makes wait for a human approver.")
Id = Annotated[str, typer.Argument(help="Approval id (apr_…).")]
Comment = Annotated[str, typer.Option("--comment", "--reason", help="Why (recorded in the audit log).")]


def _line(doc: dict[str, Any]) -> str:
    args = json.dumps(doc["args"], sort_keys=True)[:200]
    call = f"{doc['deployment']}:{doc['tool']} {args}"
    return f"{doc['id']} {doc['state']}: {doc['agent']} → {call} (needs {doc['approver']})"


@approval_app.command("list")
def list_approvals(
    state: Annotated[str | None, typer.Option(help="pending, approved, denied, used or expired.")] = "pending",
) -> None:
    """Approvals, newest first (pending by default): the exact tool, arguments and agent."""
    params = {"state": state} if state else {}
    docs = Api().get_all("/approvals", params=params)
    for doc in docs:
        doc["call"] = f"{doc['deployment']}:{doc['tool']} {json.dumps(doc['args'], sort_keys=True)[:80]}"
    table(docs, ["id", "state", "agent", "call", "approver", "created_at"])


@approval_app.command("show")
def show(approval_id: Id) -> None:
    """One approval in full."""
    emit(Api().get(f"/approvals/{approval_id}"))


@approval_app.command("approve")
def approve(approval_id: Id, reason: Comment = "") -> None:
    """Approve exactly this call, once; the grant expires in 15 minutes."""
    doc = Api().post(f"/approvals/{approval_id}/approve", json={"reason": reason})
    emit(doc, human="Approved " + _line(doc) + f"; single use, expires {doc['expires_at']}")


@approval_app.command("deny")
def deny(approval_id: Id, reason: Comment = "") -> None:
    """Deny this call."""
    doc = Api().post(f"/approvals/{approval_id}/deny", json={"reason": reason})
    emit(doc, human="Denied " + _line(doc))


def register(app: typer.Typer) -> None:
    app.add_typer(approval_app, name="approval", no_args_is_help=True)
