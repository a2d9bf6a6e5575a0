"""Evaluate the control catalogs' `applies_when` conditions over a system's classification facts.

The grammar is the catalog's own small vocabulary:
`FIELD == VALUE`, `FIELD != VALUE`, `FIELD is set`, `FIELD in {A, 'B'}`, `FIELD not 'GLOB*'`, `AND`, `OR`, `( … )`.
A set-valued field (e.g. `capability`) matches `in {…}` / `==` when any member matches. An unset field is never
equal to anything, and `FIELD not 'GLOB'` needs the field to be set.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<set>\{[^}]*\})|(?P<op>==|!=)|(?P<str>'[^']*')|(?P<word>[A-Za-z0-9_.+-]+))"
)


class ConditionError(ValueError):
    """An `applies_when` text outside the grammar."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether a condition holds, and the facts it read (for the 'why' of an obligation)."""

    holds: bool
    facts: tuple[tuple[str, Any], ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConditionError(f"cannot read '{text[pos:]}' in condition '{text}'")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _literal(raw: str) -> Any:
    if raw.startswith("'") and raw.endswith("'"):
        return raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    return raw


def _members(raw: str) -> list[Any]:
    inner = raw.strip()[1:-1]
    return [_literal(part.strip()) for part in inner.split(",") if part.strip()]


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def _eq(value: Any, literal: Any) -> bool:
    for v in _values(value):
        if isinstance(literal, bool) or isinstance(v, bool):
            if v is literal:
                return True
        elif str(v) == str(literal):
            return True
    return False


class _Parser:
    def __init__(self, text: str, facts: Mapping[str, Any]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.facts = facts
        self.read: dict[str, Any] = {}

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ConditionError(f"condition '{self.text}' ends too early")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].upper() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> bool:
        result = self.disjunction()
        if self.peek() is not None:
            raise ConditionError(f"unexpected '{self.peek()[1]}' in condition '{self.text}'")  # type: ignore[index]
        return result

    def disjunction(self) -> bool:
        result = self.conjunction()
        while self.keyword("OR"):
            right = self.conjunction()
            result = result or right
        return result

    def conjunction(self) -> bool:
        result = self.atom()
        while self.keyword("AND"):
            right = self.atom()
            result = result and right
        return result

    def atom(self) -> bool:
        kind, text = self.take()
        if kind == "lp":
            inner = self.disjunction()
            if self.take()[0] != "rp":
                raise ConditionError(f"missing ')' in condition '{self.text}'")
            return inner
        if kind != "word":
            raise ConditionError(f"expected a field name, got '{text}' in condition '{self.text}'")
        value = self.facts.get(text)
        self.read[text] = value
        return self.comparison(value)

    def comparison(self, value: Any) -> bool:
        kind, text = self.take()
        if kind == "op":
            literal = _literal(self.take()[1])
            return _eq(value, literal) if text == "==" else (value is not None and not _eq(value, literal))
        if kind == "word" and text == "is":
            if not self.keyword("SET"):
                raise ConditionError(f"expected 'is set' in condition '{self.text}'")
            return bool(_values(value)) and value != ""
        if kind == "word" and text == "in":
            members = self.take()
            if members[0] != "set":
                raise ConditionError(f"expected '{{…}}' after 'in' in condition '{self.text}'")
            return any(_eq(value, m) for m in _members(members[1]))
        if kind == "word" and text == "not":
            pattern = str(_literal(self.take()[1]))
            present = [str(v) for v in _values(value)]
            return bool(present) and not any(fnmatch.fnmatchcase(v, pattern) for v in present)
        raise ConditionError(f"unknown operator '{text}' in condition '{self.text}'")


def evaluate(text: str, facts: Mapping[str, Any]) -> Outcome:
    """Evaluate `text` over `facts`; raises ConditionError when the text is outside the grammar."""
    parser = _Parser(text, facts)
    holds = parser.parse()
    return Outcome(holds, tuple(sorted(parser.read.items())))
