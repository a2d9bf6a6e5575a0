"""Declarative field specs (a tiny schema language) and evidence path syntax, used by `evidence`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Kind(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    OBJECT = "object"
    LIST = "list"
    MAP = "map"  # free keys (attribute names, group names); values follow `item`
    ANY = "any"


@dataclass(frozen=True, slots=True)
class Field:
    """Declared shape of one evidence value."""

    kind: Kind
    nullable: bool = False
    fields: Mapping[str, Field] = field(default_factory=dict)
    item: Field | None = None
    default: Any = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def child(self, name: str) -> Field | None:
        """The declared field `name` under this one (map keys are free), else None."""
        if self.kind == Kind.OBJECT:
            return self.fields.get(name)
        if self.kind == Kind.MAP:
            return self.item
        if self.kind == Kind.ANY:
            return ANY
        return None

    def element(self) -> Field | None:
        """What a comprehension variable ranges over: list items, or keys of maps/objects."""
        if self.kind == Kind.LIST:
            return self.item
        if self.kind in (Kind.MAP, Kind.OBJECT):
            return STRING_KEY
        if self.kind == Kind.ANY:
            return ANY
        return None


def string(doc: str = "", choices: tuple[str, ...] = ()) -> Field:
    """A nullable string, optionally one of `choices`."""
    return Field(Kind.STRING, nullable=True, doc=doc, choices=choices)


def number(doc: str = "") -> Field:
    """A nullable number (stored as a double)."""
    return Field(Kind.FLOAT, nullable=True, doc=doc)


def flag(doc: str = "") -> Field:
    """A boolean that defaults to false."""
    return Field(Kind.BOOL, default=False, doc=doc)


def obj(fields: dict[str, Field], *, nullable: bool = False, doc: str = "") -> Field:
    """An object with declared fields."""
    return Field(Kind.OBJECT, nullable=nullable, fields=MappingProxyType(fields), doc=doc)


def list_of(item: Field, doc: str = "") -> Field:
    """A list of `item`, defaulting to empty."""
    return Field(Kind.LIST, item=item, default=(), doc=doc)


ANY = Field(Kind.ANY, nullable=True)
STRING_KEY = Field(Kind.STRING)
OPEN_MAP = Field(Kind.MAP, item=ANY, doc="free-form mapping")

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def split_path(path: str) -> list[str] | None:
    """`datasets[].lawful_basis` → ['datasets', '[]', 'lawful_basis']; None when malformed."""
    out: list[str] = []
    for part in path.split("."):
        brackets = 0
        while part.endswith("[]"):
            part = part[:-2]
            brackets += 1
        if part != "*" and not _SEGMENT.fullmatch(part):
            return None
        out.append(part)
        out.extend(["[]"] * brackets)
    return out


def join_path(parts: list[str]) -> str:
    """Inverse of `split_path` (also joins concrete pieces such as `datasets[1]`)."""
    out = ""
    for part in parts:
        out = out + part if part == "[]" else (f"{out}.{part}" if out else part)
    return out
