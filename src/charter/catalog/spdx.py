"""SPDX license identifiers and expressions, validated against the list shipped in `spdx_ids.json`."""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path

from charter.core.errors import ErrorCode, InvalidInput

_FILE = Path(__file__).with_name("spdx_ids.json")
_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.+:-]+)")
_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$")
_OPERATORS = {"AND", "OR", "WITH"}


@lru_cache(maxsize=1)
def _lists() -> tuple[dict[str, str], dict[str, str]]:
    doc = json.loads(_FILE.read_text(encoding="utf-8"))
    licenses = {x.lower(): x for x in doc["licenses"]}
    exceptions = {x.lower(): x for x in doc["exceptions"]}
    return licenses, exceptions


def license_ids() -> list[str]:
    """Every known SPDX license id."""
    return sorted(_lists()[0].values())


def suggest(word: str, extra: tuple[str, ...] = ()) -> str:
    """` (did you mean 'X'?)` for the closest known id, or ''."""
    licenses, _ = _lists()
    options = list(licenses.values()) + list(extra)
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def _bad(field: str, value: str, token: str, extra: tuple[str, ...], what: str = "SPDX license id") -> InvalidInput:
    return InvalidInput(
        f"{field}: '{token}' is not a known {what}{suggest(token, extra)}; use an id from the SPDX License List "
        f"(https://spdx.org/licenses/), an expression such as 'MIT OR Apache-2.0', or LicenseRef-NAME"
        + (f" (in '{value}')" if token != value else ""),
        code=ErrorCode.INVALID_LICENSE,
        field=field,
    )


def normalize(value: str, *, field: str = "license", extra: tuple[str, ...] = ()) -> str:
    """Validate an SPDX expression and return it with canonical id casing; `extra` ids are also accepted."""
    licenses, exceptions = _lists()
    known_extra = {x.lower(): x for x in extra}
    text = value.strip()
    if not text:
        raise InvalidInput(f"{field}: empty license; give an SPDX id such as 'Apache-2.0'", field=field)
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _bad(field, value, text[pos:].strip(), extra)
        tokens.append(m.group(1))
        pos = m.end()
    out: list[str] = []
    expect_operand = True
    after_with = False
    depth = 0
    for tok in tokens:
        upper = tok.upper()
        if tok == "(":
            depth += 1
            out.append(tok)
            continue
        if tok == ")":
            depth -= 1
            if depth < 0 or expect_operand:
                raise InvalidInput(
                    f"{field}: unbalanced parentheses in '{value}'", code=ErrorCode.INVALID_LICENSE, field=field
                )
            out.append(tok)
            continue
        if upper in _OPERATORS:
            if expect_operand:
                raise InvalidInput(
                    f"{field}: '{tok}' needs a license before it in '{value}'",
                    code=ErrorCode.INVALID_LICENSE,
                    field=field,
                )
            out.append(upper)
            expect_operand, after_with = True, upper == "WITH"
            continue
        if not expect_operand:
            raise InvalidInput(
                f"{field}: '{tok}' follows another license in '{value}'; join them with AND / OR",
                code=ErrorCode.INVALID_LICENSE,
                field=field,
            )
        if after_with:
            if tok.lower() not in exceptions:
                raise _bad(field, value, tok, extra, "SPDX license exception id")
            out.append(exceptions[tok.lower()])
        else:
            plus = tok.endswith("+") and tok[:-1].lower() in licenses
            key = tok[:-1].lower() if plus else tok.lower()
            if key in licenses:
                out.append(licenses[key] + ("+" if plus else ""))
            elif key in known_extra:
                out.append(known_extra[key])
            elif _REF.match(tok):
                out.append(tok)
            else:
                raise _bad(field, value, tok, extra)
        expect_operand, after_with = False, False
    if expect_operand or depth != 0:
        raise InvalidInput(
            f"{field}: incomplete license expression '{value}'", code=ErrorCode.INVALID_LICENSE, field=field
        )
    return " ".join(out).replace("( ", "(").replace(" )", ")")
