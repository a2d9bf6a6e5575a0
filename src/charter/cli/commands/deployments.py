"""deployment add|list|show|remove."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from charter.cli.client import Api
from charter.cli.output import emit, table

deployment_app = typer.Typer(help="Deployments: a licensed model version behind an upstream model server.")


def _line(doc: dict[str, Any]) -> str:
    return (
        f"{doc['name']} ({doc['id']}): {doc['model']} [{doc['digest'][:19]}…] in {doc['env']} → "
        f"{doc['upstream']} ({doc['kind']})"
    )


@deployment_app.command("add")
def add(
    name: str,
    model: Annotated[str, typer.Option("--model", help="SYSTEM@VERSION from the catalog.")],
    upstream: Annotated[str, typer.Option("--upstream", help="Base URL of the model server, e.g. http://host:8000.")],
    env: Annotated[str, typer.Option("--env", help="Environment the license must cover.")] = "production",
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="openai (OpenAI-compatible), http (any server) or mcp (an MCP server's Streamable HTTP endpoint).",
        ),
    ] = "openai",
    upstream_model: Annotated[
        str | None, typer.Option("--upstream-model", help="Model name the upstream expects.")
    ] = None,
    rate_limit: Annotated[float | None, typer.Option("--rate-limit", help="Calls per second per license.")] = None,
    burst: Annotated[int | None, typer.Option("--burst", help="Token bucket size (default: the rate).")] = None,
) -> None:
    """Register a deployment; callers then use its NAME as the OpenAI `model` or at /gw/NAME/."""
    doc = Api().post(
        "/deployments",
        json={
            "name": name,
            "model": model,
            "env": env,
            "upstream": upstream,
            "kind": kind,
            "upstream_model": upstream_model,
            "rate_limit_rps": rate_limit,
            "rate_burst": burst,
        },
    )
    emit(doc, human=f"Created deployment {_line(doc)}")


@deployment_app.command("list")
def list_() -> None:
    """List deployments."""
    table(Api().get_all("/deployments"), ["name", "model", "env", "kind", "upstream", "rate_limit_rps"])


@deployment_app.command("show")
def show(name: str) -> None:
    """Show one deployment."""
    doc = Api().get(f"/deployments/{name}")
    emit(doc, human=_line(doc))


@deployment_app.command("remove")
def remove(name: str) -> None:
    """Remove a deployment (gateways stop routing to it within a second)."""
    doc = Api().delete(f"/deployments/{name}")
    emit(doc, human=f"Removed deployment {doc['name']}")


def register(app: typer.Typer) -> None:
    app.add_typer(deployment_app, name="deployment", no_args_is_help=True)
