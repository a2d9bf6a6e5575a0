"""Hugging Face model cards: YAML front matter plus markdown sections, as one flat JSON-able dict.

The card dict keeps the front matter keys at the top level (`license`, `library_name`, `datasets`, …) and the
markdown body under `sections` ({heading: text}), the shape the evaluation's documentation check reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charter.catalog import yamlfile
from charter.core.errors import ErrorCode, InvalidInput

MAX_SECTION_CHARS = 8_000
MAX_CARD_BYTES = 256_000


def _sections(lines: list[str]) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("#"):
            title = line.lstrip("#").strip()
            if title:
                current = sections.setdefault(title, [])
                continue
        if current is not None:
            current.append(line)
    return {title: "\n".join(body).strip()[:MAX_SECTION_CHARS] for title, body in sections.items()}


def parse_card(text: str, source: str = "model card") -> dict[str, Any]:
    """Parse a model card; malformed front matter raises InvalidInput naming `source:line:col`, field `card`."""
    lines = text.lstrip("\ufeff").splitlines()
    metadata: dict[str, Any] = {}
    body_start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is None:
            raise InvalidInput(
                f"{source}:1:1: front matter opened with '---' is never closed; add a line '---' after it",
                code=ErrorCode.MALFORMED_YAML,
                field="card",
            )
        located = yamlfile.load("\n".join(lines[1:end]), source, field_name="card", line_offset=1)
        if located.value is not None and not isinstance(located.value, dict):
            raise InvalidInput(
                f"{source}:2:1: model card front matter must be a mapping (key: value), "
                f"not a {type(located.value).__name__}",
                code=ErrorCode.MALFORMED_YAML,
                field="card",
            )
        metadata = {str(k): v for k, v in (located.value or {}).items()}
        body_start = end + 1
    card = dict(metadata)
    sections = _sections(lines[body_start:])
    if sections and "sections" not in card:
        card["sections"] = sections
    size = len(json.dumps(card, default=str))
    if size > MAX_CARD_BYTES:
        raise InvalidInput(
            f"{source}: model card is {size} bytes as JSON, more than {MAX_CARD_BYTES}; shorten it",
            code=ErrorCode.CARD_TOO_LARGE,
            field="card",
        )
    return json.loads(json.dumps(card, default=str))  # type: ignore[no-any-return]


def read_card(path: Path) -> dict[str, Any]:
    """Read and parse a model card file; a missing or non-UTF-8 file raises InvalidInput naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"card: no such file: {path}", code=ErrorCode.FILE_NOT_FOUND, field="card") from None
    except OSError as exc:
        raise InvalidInput(
            f"card: cannot read {path}: {exc.strerror}", code=ErrorCode.FILE_UNREADABLE, field="card"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"{path}:{line}: model card is not valid UTF-8", code=ErrorCode.MALFORMED_CARD, field="card"
        ) from None
    return parse_card(text, str(path))
