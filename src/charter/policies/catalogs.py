"""Built-in control catalogs (EU AI Act, GDPR, NIST AI RMF + 600-1, ISO/IEC 42001) as typed, indexed objects."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from charter.core.errors import ErrorCode, NotFound
from charter.core.legal import LegalStatus, legal_status

# Short names used on the command line (`charter controls coverage --framework nist-ai-rmf`).
FRAMEWORK_ALIASES: Mapping[str, str] = {
    "nist-ai-rmf": "nist-ai-rmf-1.0",
    "nist-rmf": "nist-ai-rmf-1.0",
    "nist-trust": "nist-ai-rmf-trustworthiness",
    "nist-600-1": "nist-ai-600-1",
    "iso-42001": "iso-iec-42001-2023",
    "iso42001": "iso-iec-42001-2023",
    "euaia": "eu-ai-act",
}

# How people often spell control ids elsewhere (`eu-ai-act:art-10`), used only for suggestions.
_PREFIX_HINTS = {"eu-ai-act": "EUAIA", "gdpr": "GDPR", "nist-ai-rmf": "NIST-RMF", "iso-42001": "ISO42001"}


@dataclass(frozen=True, slots=True)
class Subcategory:
    """A finer reference inside a control (NIST AI RMF subcategories such as MEASURE 2.11)."""

    id: str
    ref: str
    title: str


@dataclass(frozen=True, slots=True)
class Control:
    """One control of one framework."""

    id: str
    framework: str
    ref: str
    title: str
    summary: str
    applies_to_risk_tiers: tuple[str, ...]
    automatable_evidence: tuple[str, ...]
    roles: tuple[str, ...] = ()
    applies_when: str | None = None
    effective_from: str | None = None
    maps_to: tuple[str, ...] = ()
    notes: str | None = None
    objective: str | None = None
    subcategories: tuple[Subcategory, ...] = ()
    legal: LegalStatus = LegalStatus("in_force", "")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "id": self.id,
            "framework": self.framework,
            "ref": self.ref,
            "title": self.title,
            "summary": self.summary,
            "applies_to_risk_tiers": list(self.applies_to_risk_tiers),
            "automatable_evidence": list(self.automatable_evidence),
            "roles": list(self.roles),
            "applies_when": self.applies_when,
            "effective_from": self.effective_from,
            "maps_to": list(self.maps_to),
            "notes": self.notes,
            "objective": self.objective,
            "subcategories": [{"id": s.id, "ref": s.ref, "title": s.title} for s in self.subcategories],
            **self.legal.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Framework:
    """A catalog of controls (one law, standard or framework)."""

    id: str
    title: str
    version: str
    source: str
    controls: tuple[Control, ...]


class ControlCatalog:
    """All frameworks with a lookup by control id (subcategory ids resolve to their control)."""

    def __init__(self, frameworks: tuple[Framework, ...], risk_tiers: tuple[str, ...]) -> None:
        self.frameworks = frameworks
        self.risk_tiers = risk_tiers
        self._controls: dict[str, Control] = {}
        self._aliases: dict[str, str] = {}
        for fw in frameworks:
            for control in fw.controls:
                if control.id in self._controls:
                    raise ValueError(f"duplicate control id {control.id}")
                self._controls[control.id] = control
                for sub in control.subcategories:
                    self._aliases[sub.id] = control.id
        self._frameworks = {fw.id: fw for fw in frameworks}

    def __len__(self) -> int:
        return len(self._controls)

    def __iter__(self) -> Iterator[Control]:
        return iter(self._controls.values())

    def __contains__(self, control_id: object) -> bool:
        return isinstance(control_id, str) and self.find(control_id) is not None

    def find(self, control_id: str) -> Control | None:
        """The control with this id (or the control owning this subcategory id), else None."""
        control = self._controls.get(control_id)
        if control is None and control_id in self._aliases:
            control = self._controls[self._aliases[control_id]]
        return control

    def get(self, control_id: str) -> Control:
        """The control with this id; NotFound with a suggestion otherwise."""
        control = self.find(control_id)
        if control is None:
            hint = self.suggest(control_id)
            extra = f" (did you mean '{hint}'?)" if hint else ""
            raise NotFound(f"unknown control id '{control_id}'{extra}", code=ErrorCode.UNKNOWN_CONTROL, field="control")
        return control

    def ids(self) -> frozenset[str]:
        """Every accepted id: control ids and subcategory ids."""
        return frozenset(self._controls) | frozenset(self._aliases)

    def suggest(self, control_id: str) -> str | None:
        """The closest known id for a misspelt one (also maps `eu-ai-act:art-10` to `EUAIA-ART10`)."""
        guess = control_id.strip()
        if ":" in guess:
            prefix, _, rest = guess.partition(":")
            guess = f"{_PREFIX_HINTS.get(prefix.lower(), prefix)}-{rest}"
        guess = re.sub(r"(?i)\b(ART|ANNEX)[- ]?", lambda m: m.group(1).upper(), guess).upper()
        guess = guess.replace("ANNEXIII-", "ANNEXIII-").replace(" ", "-")
        if self.find(guess) is not None:
            return guess
        close = difflib.get_close_matches(guess, sorted(self.ids()), n=1, cutoff=0.6)
        return close[0] if close else None

    def framework(self, framework_id: str) -> Framework:
        """A framework by id or alias (`nist-ai-rmf`, `iso-42001`); NotFound otherwise."""
        key = FRAMEWORK_ALIASES.get(framework_id, framework_id)
        fw = self._frameworks.get(key)
        if fw is None:
            names = sorted({*self._frameworks, *FRAMEWORK_ALIASES})
            close = difflib.get_close_matches(framework_id, names, n=1, cutoff=0.5)
            extra = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(sorted(self._frameworks))}"
            raise NotFound(
                f"unknown framework '{framework_id}'{extra}", code=ErrorCode.UNKNOWN_FRAMEWORK, field="framework"
            )
        return fw


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _control(framework_id: str, raw: Mapping[str, Any]) -> Control:
    ref = str(raw["ref"])
    control_id = str(raw["id"])
    suffix = ref.replace(" ", "-")
    prefix = control_id[: -len(suffix)] if control_id.endswith(suffix) else f"{control_id}-"
    subs = tuple(
        Subcategory(id=f"{prefix}{str(s['ref']).replace(' ', '-')}", ref=str(s["ref"]), title=str(s["title"]))
        for s in raw.get("subcategories") or ()
    )
    return Control(
        id=control_id,
        framework=framework_id,
        ref=ref,
        title=str(raw["title"]),
        summary=str(raw["summary"]),
        applies_to_risk_tiers=_strs(raw.get("applies_to_risk_tiers")),
        automatable_evidence=_strs(raw.get("automatable_evidence")),
        roles=_strs(raw.get("roles")),
        applies_when=_opt(raw.get("applies_when")),
        effective_from=_opt(raw.get("effective_from")),
        maps_to=_strs(raw.get("maps_to")),
        notes=_opt(raw.get("notes")),
        objective=_opt(raw.get("objective")),
        subcategories=subs,
        legal=legal_status(framework_id, raw),
    )


def parse_catalog(data: Mapping[str, Any]) -> ControlCatalog:
    """Build a catalog from the parsed YAML structure."""
    frameworks = tuple(
        Framework(
            id=str(fw["id"]),
            title=str(fw["title"]),
            version=str(fw.get("version", "")),
            source=str(fw.get("source", "")),
            controls=tuple(_control(str(fw["id"]), c) for c in fw.get("controls") or ()),
        )
        for fw in data["frameworks"]
    )
    tiers = tuple(str(t["id"]) for t in data.get("risk_tiers") or ())
    return ControlCatalog(frameworks, tiers)


def load_catalog(path: Path) -> ControlCatalog:
    """Load a catalog file with the built-in schema."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as fh:
        return parse_catalog(yaml.load(fh, Loader=loader))


@lru_cache(maxsize=1)
def builtin_catalog() -> ControlCatalog:
    """The control catalogs shipped with Charter (cached)."""
    ref = resources.files("charter.policies") / "builtin" / "control-catalogs.yaml"
    with resources.as_file(ref) as path:
        return load_catalog(path)
