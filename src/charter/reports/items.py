"""Report items: a labelled fact with its source, or MISSING (never invented), or not applicable with the reason."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from charter.core.clock import as_utc

MISSING = "MISSING"
Status = Literal["ok", "missing", "not_applicable"]


@dataclass(frozen=True, slots=True)
class Item:
    """One documented fact. `value` is text or a list of lines; `hint` says how to fill a missing one."""

    label: str
    value: str | list[str] | None
    source: str
    status: Status
    hint: str = ""

    @property
    def missing(self) -> bool:
        return self.status == "missing"

    @property
    def lines(self) -> list[str]:
        if self.value is None:
            return []
        return [self.value] if isinstance(self.value, str) else list(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value if self.status == "ok" else None,
            "status": self.status,
            "source": self.source,
            "hint": self.hint or None,
            "note": self.value if self.status == "not_applicable" else None,
        }


@dataclass
class Section:
    """A numbered report section: an Annex IV point or one of the report's own sections."""

    key: str
    number: str
    title: str
    ref: str
    items: list[Item] = field(default_factory=list)

    @property
    def missing(self) -> list[Item]:
        return [i for i in self.items if i.missing]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "number": self.number,
            "title": self.title,
            "ref": self.ref,
            "items": [i.to_dict() for i in self.items],
            "missing": len(self.missing),
        }


def _empty(value: str | Sequence[str] | None) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return not [v for v in value if v and v.strip()]


def fact(label: str, value: str | Sequence[str] | None, source: str, hint: str = "") -> Item:
    """An item that is MISSING when `value` is None or empty."""
    if _empty(value):
        return Item(label, None, source, "missing", hint)
    assert value is not None
    kept: str | list[str] = value if isinstance(value, str) else [v for v in value if v and v.strip()]
    return Item(label, kept, source, "ok", hint)


def not_applicable(label: str, why: str, source: str) -> Item:
    return Item(label, why, source, "not_applicable")


def joined(parts: Iterable[str | None], sep: str = " ") -> str | None:
    """The non-empty parts joined, or None when there are none."""
    kept = [p for p in parts if p]
    return sep.join(kept) if kept else None


def when(value: datetime | None) -> str:
    """A timestamp as a report shows it (UTC, minutes)."""
    if value is None:
        return "—"
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def number(value: Any, digits: int = 4) -> str:
    """A metric for display: floats to `digits` significant digits, None as '—'."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)
