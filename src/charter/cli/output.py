"""Printing: one JSON document with --json; for people, tables that never cut what a user acts on.

A table is a Rich table on a terminal wide enough for it; otherwise (a narrow terminal, or no terminal at all: CI
logs, pipes) plain aligned text, one row per line, with every cell whole. Ids and deciding values are never
shortened: the decoration goes first, then the terminal wraps long lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from charter.cli.context import STATE

console = Console()
err_console = Console(stderr=True)

SEP = "  "


def emit(doc: Any, *, human: str | None = None) -> None:
    """Print `doc` as JSON (with --json) or `human` text (default: pretty JSON)."""
    if STATE.json or human is None:
        sys.stdout.write(json.dumps(doc, default=str, indent=None if STATE.json else 2) + "\n")
    else:
        console.print(human, markup=False, highlight=False, soft_wrap=True)  # data, never markup: `dp_diff[gender]`


def table(items: Iterable[dict[str, Any]], columns: Sequence[str], *, title: str | None = None) -> None:
    """Print a list as `{"items": [...]}` with --json, else a table of `columns`."""
    rows = list(items)
    if STATE.json:
        sys.stdout.write(json.dumps({"items": rows}, default=str) + "\n")
        return
    grid(columns, [[_cell(row.get(c)) for c in columns] for row in rows], title=title)


def grid(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> None:
    """Rows of text under `headers`: a Rich table when it fits the terminal whole, else plain aligned text."""
    cells = [[" ".join(c.splitlines()) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    boxed = sum(widths) + 3 * len(widths) + 1  # Rich's default box: a border and one space of padding per side
    if console.is_terminal and boxed <= console.width:
        t = Table(title=title)
        for h in headers:
            t.add_column(h, no_wrap=True)
        for r in cells:
            t.add_row(*(Text(c) for c in r))  # cells are data, never markup (`dp_diff[gender]`)
        console.print(t)
        return
    lines = [title] if title else []
    lines.append(_line(headers, widths))
    lines.extend(_line(r, widths) for r in cells)
    _plain("\n".join(lines))


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    last = len(cells) - 1
    return SEP.join(c if i == last else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()


def _plain(text: str) -> None:
    """Text exactly as given: no markup, no highlighting, no wrapping or cutting at the console's width."""
    console.print(text, markup=False, highlight=False, soft_wrap=True, emoji=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
