"""Printing: one JSON document with --json, Rich tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from charter.cli.context import STATE

console = Console()
err_console = Console(stderr=True)


def emit(doc: Any, *, human: str | None = None) -> None:
    """Print `doc` as JSON (with --json) or `human` text (default: pretty JSON)."""
    if STATE.json or human is None:
        sys.stdout.write(json.dumps(doc, default=str, indent=None if STATE.json else 2) + "\n")
    else:
        console.print(human, highlight=False, soft_wrap=True)


def table(items: Iterable[dict[str, Any]], columns: Sequence[str], *, title: str | None = None) -> None:
    """Print a list as `{"items": [...]}` with --json, else a table of `columns`."""
    rows = list(items)
    if STATE.json:
        sys.stdout.write(json.dumps({"items": rows}, default=str) + "\n")
        return
    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*[_cell(row.get(c)) for c in columns])
    console.print(t)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
