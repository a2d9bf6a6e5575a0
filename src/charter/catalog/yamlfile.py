"""Read YAML/JSON documents (answers files, model-card front matter) with file:line:column errors.

Parsing keeps the position of every mapping key so that a schema error on `prohibited.csam` can point at its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from charter.core.errors import ErrorCode, InvalidInput

MAX_CHARS = 1_000_000
Path_ = tuple[str | int, ...]


@dataclass(slots=True)
class Located:
    """A parsed document and where each key path starts (1-based line, column)."""

    value: Any
    source: str
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Sequence[str | int]) -> str:
        """`file:line:col` of the deepest known prefix of `path`."""
        probe = tuple(path)
        while probe and probe not in self.positions:
            probe = probe[:-1]
        line, col = self.positions.get(probe, (1, 1))
        return f"{self.source}:{line}:{col}"


class _Loader(yaml.SafeLoader):
    """Safe loader that keeps dates as strings (JSON-compatible) and refuses aliases (no billion laughs)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _error(source: str, message: str, line: int, col: int, field_name: str) -> InvalidInput:
    return InvalidInput(f"{source}:{line}:{col}: {message}", code=ErrorCode.MALFORMED_YAML, field=field_name)


def _walk(node: yaml.Node, path: Path_, out: dict[Path_, tuple[int, int]]) -> None:
    out.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        for key, child in node.value:
            name = str(key.value)
            out[(*path, name)] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _walk(child, (*path, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _walk(child, (*path, i), out)


def load(text: str, source: str, *, field_name: str = "file", line_offset: int = 0) -> Located:
    """Parse one YAML (or JSON) document; malformed input raises InvalidInput naming `source:line:col`."""
    if len(text) > MAX_CHARS:
        raise _error(source, f"larger than {MAX_CHARS} characters", 1, 1, field_name)
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                line, col = (event.start_mark.line, event.start_mark.column) if event.start_mark else (0, 0)
                raise _error(source, "aliases (*name) are not allowed", line + 1 + line_offset, col + 1, field_name)
        node = yaml.compose(text, Loader=_Loader)
        value = yaml.load(text, Loader=_Loader) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 if mark else 1) + line_offset
        col = mark.column + 1 if mark else 1
        problem = exc.problem or exc.context or "malformed YAML"
        raise _error(source, f"malformed YAML: {problem}", line, col, field_name) from None
    except yaml.YAMLError as exc:
        raise _error(source, f"malformed YAML: {exc}", 1 + line_offset, 1, field_name) from None
    positions: dict[Path_, tuple[int, int]] = {}
    if node is not None:
        _walk(node, (), positions)
        if line_offset:
            positions = {k: (line + line_offset, col) for k, (line, col) in positions.items()}
    return Located(value, source, positions)


def describe_validation(located: Located, errors: Sequence[Any], prefix: str = "") -> InvalidInput:
    """Turn pydantic `errors()` into one InvalidInput naming the first field and its `file:line:col`."""

    def rank(error: Any) -> tuple[int, int, int]:
        loc = tuple(error.get("loc", ()))
        line, col = located.positions.get(loc, (1 << 30, 0))
        return (0 if loc in located.positions else 1, line, col)

    first = min(errors, key=rank)  # a wrong value where it stands beats a missing key
    loc = [p for p in first.get("loc", ()) if p not in ("body",)]
    dotted = ".".join(str(p) for p in loc) or "document"
    message = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidInput(
        f"{located.where(loc)}: {prefix}{dotted}: {message}{more}",
        code=ErrorCode.INVALID_ANSWERS if prefix.startswith("answers") else ErrorCode.INVALID_INPUT,
        field=f"{prefix}{dotted}",
    )
