"""document add|list: FRIA (Art. 27) and post-market monitoring plan (Art. 72) per model version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from charter.catalog import yamlfile
from charter.cli.client import Api
from charter.cli.errors import usage
from charter.cli.output import emit, table
from charter.core.errors import ErrorCode

KINDS = ("fria", "post_market_plan")
document_app = typer.Typer(help="FRIA (Art. 27) and post-market monitoring plan (Art. 72), versioned per system.")


@document_app.command("add")
def add(
    ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION the document covers.")],
    kind: Annotated[str, typer.Option("--kind", help="fria | post-market-plan")],
    file: Annotated[
        Path, typer.Option("--file", exists=True, dir_okay=False, help="YAML: sections (mapping), metrics (plan).")
    ],
) -> None:
    """Store the next revision of a FRIA or post-market monitoring plan for SYSTEM@VERSION."""
    system, _, version = ref.partition("@")
    if not system or not version:
        raise usage(ErrorCode.INVALID_REF, f"'{ref}' is not SYSTEM@VERSION")
    if kind.replace("-", "_") not in KINDS:
        raise usage(ErrorCode.INVALID_INPUT, f"--kind must be fria or post-market-plan, not '{kind}'")
    if not file.is_file():
        raise usage(ErrorCode.INVALID_FILE, f"--file {file}: not a regular file")
    if file.stat().st_size > yamlfile.MAX_CHARS * 4:  # more UTF-8 bytes than the parser takes characters
        raise usage(ErrorCode.INVALID_FILE, f"--file {file}: larger than {yamlfile.MAX_CHARS} characters")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage(ErrorCode.INVALID_FILE, f"{file}: cannot read it as UTF-8 text: {exc}") from None
    doc: Any = yamlfile.load(text, str(file), field_name="file").value or {}
    if not isinstance(doc, dict):
        raise usage(ErrorCode.INVALID_FILE, f"{file}: expected a mapping with 'sections' (and 'metrics' for a plan)")
    body = {
        "kind": kind.replace("-", "_"),
        "model_version": version,
        "sections": doc.get("sections") or {},
        "metrics": doc.get("metrics") or [],
    }
    out = Api().post(f"/systems/{system}/documents", json=body)
    emit(out, human=f"{out['kind']} revision {out['revision']} for {system}@{out['model_version']} ({out['id']})")


@document_app.command("list")
def list_(system: str) -> None:
    """The system's documents."""
    items = Api().get_all(f"/systems/{system}/documents")
    table(items, ["id", "kind", "article", "revision", "model_version", "created_by", "created_at"])


def register(app: typer.Typer) -> None:
    app.add_typer(document_app, name="document", no_args_is_help=True)
