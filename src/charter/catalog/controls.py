"""The built-in control catalogs, read straight from the YAML file (not through charter.policies, a sibling layer).

Looked up in the package first (`charter/policies/builtin/control-catalogs.yaml`, shipped by the policies domain),
then in the shared reference copy beside the repository. Only what classification needs is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

import charter
from charter.core.errors import CharterError, ErrorCode, ErrorKind
from charter.core.legal import LegalStatus, legal_status

FILENAME = "control-catalogs.yaml"
ENV_OVERRIDE = "CHARTER_CONTROL_CATALOGS"  # Settings.control_catalogs, as the error message names it
_override: Path | None = None


@dataclass(frozen=True, slots=True)
class ControlRef:
    """One control as classification sees it: which tiers it covers and under what condition."""

    id: str
    framework: str
    ref: str
    title: str
    tiers: tuple[str, ...]
    applies_when: str | None
    roles: tuple[str, ...] = ()
    legal: LegalStatus = LegalStatus("in_force", "")


def configure(path: Path | None) -> None:
    """Look for the catalog at `path` first (`Settings.control_catalogs`; the composition root sets it)."""
    global _override
    _override = path


def candidates() -> list[Path]:
    """Where the catalog YAML is looked for, in order."""
    out: list[Path] = []
    if _override is not None:
        out.append(_override)
    package = Path(charter.__file__).resolve().parent
    out.append(package / "policies" / "builtin" / FILENAME)
    for parent in package.parents:
        out.append(parent / "shared" / "reference" / FILENAME)
        if (parent / ".git").exists() or (parent / "pyproject.toml").exists():
            out.append(parent.parent / "shared" / "reference" / FILENAME)
            break
    out.append(Path("/work/shared/reference") / FILENAME)
    return out


def catalog_path() -> Path:
    """The first existing catalog file, or a clear error naming where it was looked for."""
    for path in candidates():
        if path.is_file():
            return path
    raise CharterError(
        f"control catalogs not found (looked in: {', '.join(str(p) for p in candidates())}); "
        f"set {ENV_OVERRIDE}=PATH/{FILENAME}",
        code=ErrorCode.CONTROL_CATALOGS_MISSING,
        kind=ErrorKind.UNAVAILABLE,
    )


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def parse(document: Mapping[str, Any]) -> tuple[ControlRef, ...]:
    """Controls of every framework in a parsed catalog document."""
    out: list[ControlRef] = []
    for framework in document.get("frameworks") or []:
        fid = str(framework.get("id", ""))
        for control in framework.get("controls") or []:
            out.append(
                ControlRef(
                    id=str(control["id"]),
                    framework=fid,
                    ref=str(control.get("ref", "")),
                    title=str(control.get("title", "")),
                    tiers=_tuple(control.get("applies_to_risk_tiers")),
                    applies_when=str(control["applies_when"]) if control.get("applies_when") else None,
                    roles=_tuple(control.get("roles")),
                    legal=legal_status(fid, control),
                )
            )
    return tuple(out)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> tuple[ControlRef, ...]:
    del mtime_ns  # part of the cache key only: a changed file is read again
    with open(path, encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    if not isinstance(document, dict):
        raise CharterError(f"{path}: not a control catalog document", code=ErrorCode.CONTROL_CATALOGS_INVALID)
    return parse(document)


def controls() -> tuple[ControlRef, ...]:
    """Every control of every built-in framework, in catalog order."""
    path = catalog_path()
    return _load(str(path), path.stat().st_mtime_ns)


def by_id() -> dict[str, ControlRef]:
    """Controls indexed by id."""
    return {c.id: c for c in controls()}
