"""docs/architecture.md describes every package: a newcomer finds each one in one paragraph."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import charter

ROOT = Path(__file__).resolve().parents[3]
TEXT = (ROOT / "docs" / "architecture.md").read_text()
TOP_LEVEL_MODULES = {"bootstrap", "server", "settings"}  # modules that are a layer of their own


def test_every_package_has_a_paragraph() -> None:
    names = {m.name for m in pkgutil.iter_modules(charter.__path__) if m.ispkg} | TOP_LEVEL_MODULES
    missing = sorted(n for n in names if f"- **{n}**:" not in TEXT)
    assert not missing, f"docs/architecture.md has no paragraph for: {', '.join(missing)}"


def test_every_package_is_in_the_layer_table() -> None:
    names = {m.name for m in pkgutil.iter_modules(charter.__path__) if m.ispkg} | TOP_LEVEL_MODULES
    table = TEXT.split("## Layers", 1)[1].split("\n## ", 1)[0]
    missing = sorted(n for n in names if f"`{n}`" not in table)
    assert not missing, f"the layer table of docs/architecture.md leaves out: {', '.join(missing)}"
