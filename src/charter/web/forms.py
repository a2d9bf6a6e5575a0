"""Form handling shared by the dashboard's write pages: field values in, errors out next to their fields.

A form never writes half: it is validated by the same Pydantic schema the API uses, then handed to the same
service in one unit of work; any refusal comes back here as `{field: message}` and the form is shown again with
what was typed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from charter.core.errors import CharterError

FORM = "form"  # the key of errors that belong to no single field
# What a pattern-checked field accepts, in words (Pydantic would print the regular expression).
PATTERNS = {
    "name": "use lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. credit-scoring)",
    "team": "a team name: lowercase letters, digits, '.', '_' or '-'",
    "env": "lowercase letters, digits, '.', '_' or '-' (e.g. production)",
    "purposes": "each purpose: lowercase letters, digits, '.', '_' or '-' (e.g. credit-decisioning)",
    "tools": "each tool: letters, digits and . _ : / - (no spaces)",
    "regions": "each region: letters, digits and . _ : / - (no spaces)",
    "answers.annex_iii.point": "an Annex III point: the area 1-8, optionally with its letter, e.g. 5(b) or 4",
}


def split_list(raw: str) -> list[str]:
    """A comma- or newline-separated field as a list (blanks and duplicates dropped, order kept)."""
    parts = (p.strip() for chunk in raw.splitlines() for p in chunk.split(","))
    return list(dict.fromkeys(p for p in parts if p))


def lines(raw: str) -> list[str]:
    """One entry per non-blank line (for conditions, which may themselves contain commas)."""
    return [line.strip() for line in raw.splitlines() if line.strip()]


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def pydantic_errors(exc: ValidationError, fields: Iterable[str], *, strip: int = 0) -> dict[str, str]:
    """`{field: message}` from a ValidationError; `strip` drops leading location parts (e.g. `answers`), list
    indexes are dropped, and a location that is no known field lands on the form as a whole."""
    known = set(fields)
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"][strip:] if not isinstance(p, int)]
        name = ".".join(loc)
        while name and name not in known:
            name = name.rpartition(".")[0]
        key = name or FORM
        text = _message(err["msg"])
        if key == FORM and loc:
            text = f"{'.'.join(loc)}: {text}"
        elif isinstance(err["input"], str) and err["type"] == "string_pattern_mismatch":
            text = f"'{err['input'][:60]}' is not valid here: {PATTERNS.get(key, text)}"
        out.setdefault(key, text)
    return out


def domain_error(exc: CharterError, fields: Iterable[str], aliases: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service refusal placed next to the field it names (or on the form)."""
    known = set(fields)
    name = (aliases or {}).get(exc.field or "", exc.field or "")
    return {name if name in known else FORM: exc.message}
