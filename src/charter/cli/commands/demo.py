"""`charter demo`: load the demo world into the local data dir (like `charter init`, no server needed)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from charter.cli.context import STATE
from charter.cli.errors import EXIT_USAGE, CliError
from charter.cli.output import console, emit
from charter.core.errors import ErrorCode
from charter.settings import Settings

NEW_LOGINS = "charter demo --new-logins"


def demo(
    new_logins: Annotated[
        bool,
        typer.Option(
            "--new-logins",
            help="New dashboard passwords and API keys for the demo's people and apps (old keys keep working).",
        ),
    ] = False,
) -> None:
    """Load a demo: 3 AI systems, datasets, models, evaluations, reviewers, licenses in every state (runs once;
    completes a demo an interrupted run left half-loaded)."""
    from charter import bootstrap
    from charter.demo import DemoResult, load
    from charter.demo import new_logins as mint

    settings = Settings()
    try:
        container = bootstrap.build(settings)
    except FileNotFoundError as exc:  # no keys: the data dir was never initialised
        raise CliError(
            ErrorCode.NOT_INITIALISED, f"{exc}; the demo loads into an initialised data dir", EXIT_USAGE
        ) from exc
    try:
        result: DemoResult = mint(container) if new_logins else load(container)
    finally:
        container.close()
    if new_logins and not result.logins:
        raise CliError(
            ErrorCode.DEMO_NOT_LOADED, "the demo is not loaded in this data dir; run `charter demo` first", 3
        )
    doc: dict[str, Any] = {
        "loaded": result.loaded,
        "resumed": result.resumed,
        "files": str(result.data_dir),
        "seconds": result.seconds,
        "logins": [
            {
                "name": x.name,
                "display_name": x.display_name,
                "roles": x.roles,
                "password": x.password,
                "key": x.key,
                "env": env_name(x.name),
            }
            for x in result.logins
        ],
        "licenses": result.licenses,
        "notes": result.notes,
    }
    if not result.loaded and not result.logins:
        doc["summary"] = result.summary
        doc["new_logins"] = NEW_LOGINS
        emit(doc, human=_already(result.summary))
        return
    if STATE.json:
        emit(doc)
        return
    _human(doc)


def env_name(principal: str) -> str:
    """`app:loan-portal` → `LOAN_PORTAL_KEY`, `lena` → `LENA_KEY`: the shell variable the docs use for its key."""
    name = principal.split(":", 1)[-1]
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_KEY"


def _already(summary: dict[str, Any]) -> str:
    people = ", ".join(p["name"] for p in summary.get("people", []))
    return (
        f"The demo is already loaded in this data dir ({len(summary.get('systems', []))} systems, "
        f"{len(summary.get('licenses', []))} licenses); nothing changed.\n"
        f"Its people and apps: {people}.\n"
        "Their passwords and API keys were printed by the run that loaded the demo; they are not stored, so they "
        "cannot be printed again.\n"
        f"New ones (the old keys keep working): {NEW_LOGINS}"
    )


def _human(doc: dict[str, Any]) -> None:
    out = console.print
    if doc["resumed"]:
        out("Completed a demo that an earlier run left half-loaded.", highlight=False)
    out("Demo people (passwords and keys are shown once; store them now):", highlight=False)
    width = max(len(x["name"]) for x in doc["logins"])
    roles = max(len(", ".join(x["roles"])) for x in doc["logins"])
    for x in doc["logins"]:
        line = f"  {x['name']:<{width}}  {', '.join(x['roles']):<{roles}}"
        line += f"  password: {x['password']}" if x["password"] else ""
        out(line.rstrip(), markup=False, highlight=False, soft_wrap=True)
    out("Their API keys as shell lines (paste them into the shell you run the CLI and curl from):", highlight=False)
    for x in doc["logins"]:
        out(f"export {x['env']}={x['key']}", highlight=False, soft_wrap=True)
    if doc["licenses"]:
        out("Licenses:", highlight=False)
        for label, value in doc["licenses"].items():
            out(f"  {value}  {label}", highlight=False, soft_wrap=True)
    for note in doc["notes"]:
        out(f"note: {note}", highlight=False, soft_wrap=True)
    if doc["loaded"]:
        out(
            f"Loaded in {doc['seconds']} s; generated files in {doc['files']}.\n"
            f"Open the dashboard at {STATE.base_url} (served by `make run` or `charter serve`) and sign in as any "
            "person above.",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command()(demo)
