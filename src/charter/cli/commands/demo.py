"""`charter demo`: load the demo world into the local data dir (like `charter init`, no server needed)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from charter.cli.context import STATE
from charter.cli.errors import EXIT_USAGE, CliError
from charter.cli.output import console, emit
from charter.settings import Settings


def demo() -> None:
    """Load a demo: 3 AI systems, datasets, models, evaluations, reviewers, licenses in every state (runs once)."""
    from charter import bootstrap
    from charter.demo import DemoResult, load

    settings = Settings()
    try:
        container = bootstrap.build(settings)
    except FileNotFoundError as exc:  # no keys: the data dir was never initialised
        raise CliError("not_initialised", f"{exc}; the demo loads into an initialised data dir", EXIT_USAGE) from exc
    try:
        result: DemoResult = load(container)
    finally:
        container.close()
    doc: dict[str, Any] = {
        "loaded": result.loaded,
        "files": str(result.data_dir),
        "seconds": result.seconds,
        "logins": [
            {"name": x.name, "display_name": x.display_name, "roles": x.roles, "password": x.password, "key": x.key}
            for x in result.logins
        ],
        "licenses": result.licenses,
        "notes": result.notes,
    }
    if not result.loaded:
        emit(doc, human="The demo is already loaded in this data dir; nothing changed (its logins were printed then).")
        return
    if STATE.json:
        emit(doc)
        return
    _human(doc)


def _human(doc: dict[str, Any]) -> None:
    console.print("Demo people (passwords and keys are shown once; store them now):", highlight=False)
    for x in doc["logins"]:
        password = f"  password: {x['password']}" if x["password"] else ""
        console.print(f"  {x['name']:<20} {', '.join(x['roles']):<22}{password}", highlight=False, soft_wrap=True)
        console.print(f"  {'':<20} API key: {x['key']}", highlight=False, soft_wrap=True)
    states = Table("license", "id and state", title="Licenses")
    for label, value in doc["licenses"].items():
        states.add_row(label, value)
    console.print(states)
    for note in doc["notes"]:
        console.print(f"note: {note}", highlight=False)
    console.print(
        f"Loaded in {doc['seconds']} s; generated files in {doc['files']}.\n"
        "Start the server (charter serve) and log in to the dashboard as any person above.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(demo)
