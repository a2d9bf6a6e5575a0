"""YAML with positions: compose a document into located nodes and validate fields with file:line:column problems."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from charter.policies.errors import Location, PolicyError, Problem

MAX_CHARS = 2_000_000
MAX_NODES = 200_000
MAX_DEPTH = 64
SAFE_INT = 2**53 - 1
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

Kind = Literal["map", "seq", "scalar"]


@dataclass(slots=True, eq=False)
class YNode:
    """A composed YAML node with its JSON-compatible value and source position."""

    kind: Kind
    loc: Location
    value: Any  # scalar value | list[YNode] | dict[str, YNode]
    key_locs: dict[str, Location] = field(default_factory=dict)
    style: str | None = None
    start: int = 0
    end: int = 0

    def plain(self) -> Any:
        """The node as plain Python (dict / list / scalar)."""
        if self.kind == "map":
            return {k: v.plain() for k, v in self.value.items()}
        if self.kind == "seq":
            return [v.plain() for v in self.value]
        return self.value


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """A ` (did you mean 'x'?)` suffix, or an empty string."""
    close = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _loc_at(source: str, text: str, index: int) -> Location:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return Location(source, line, col)


def _mark_loc(source: str, mark: Any) -> Location:
    if mark is None:
        return Location(source, 1, 1)
    return Location(source, int(mark.line) + 1, int(mark.column) + 1)


def parse_yaml(text: str | bytes, source: str) -> YNode:
    """Compose one YAML document into located nodes, or raise PolicyError."""
    if isinstance(text, bytes):
        data = text
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            prefix = data[: exc.start].decode("utf-8", "replace")
            loc = _loc_at(source, prefix, len(prefix))
            raise PolicyError([Problem(loc, "file is not valid UTF-8")]) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PolicyError([Problem(_loc_at(source, text, exc.start), "text contains an invalid character")]) from None
    if len(text) > MAX_CHARS:
        raise PolicyError([Problem(Location(source, 1, 1), f"file is larger than {MAX_CHARS} characters")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and exc.context.startswith("expected"):
            reason = f"{exc.context} {exc.problem}"
        raise PolicyError([Problem(_mark_loc(source, mark), f"YAML syntax error: {reason}")]) from None
    except yaml.reader.ReaderError as exc:
        loc = _loc_at(source, text, int(exc.position))
        raise PolicyError([Problem(loc, f"YAML syntax error: {exc.reason}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(Location(source, 1, 1), f"YAML syntax error: {exc}")]) from None
    except RecursionError:
        raise PolicyError([Problem(Location(source, 1, 1), "YAML nesting is too deep")]) from None
    if node is None:
        raise PolicyError([Problem(Location(source, 1, 1), "the document is empty")])
    conv = _Converter(source)
    out = conv.convert(node, 0, frozenset())
    if conv.problems or out is None:
        raise PolicyError(conv.problems or [Problem(Location(source, 1, 1), "the document could not be read")])
    return out


class _Converter:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(_mark_loc(self.source, node.start_mark), message))

    def convert(self, node: yaml.Node, depth: int, ancestors: frozenset[int]) -> YNode | None:
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self.fail(node, f"document has more than {MAX_NODES} nodes (alias expansion?)")
            return None
        if depth > MAX_DEPTH:
            self.fail(node, f"nesting deeper than {MAX_DEPTH} levels")
            return None
        if id(node) in ancestors:
            self.fail(node, "recursive YAML alias")
            return None
        loc = _mark_loc(self.source, node.start_mark)
        start, end = int(node.start_mark.index), int(node.end_mark.index)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth, ancestors | {id(node)}, loc, start, end)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self.fail(node, f"unsupported YAML tag {node.tag}")
                return None
            items = [self.convert(child, depth + 1, ancestors | {id(node)}) for child in node.value]
            return YNode("seq", loc, [i for i in items if i is not None], start=start, end=end)
        if isinstance(node, yaml.ScalarNode):
            value = self._scalar(node)
            if value is _INVALID:
                return None
            return YNode("scalar", loc, value, style=node.style, start=start, end=end)
        self.fail(node, "unsupported YAML node")
        return None

    def _mapping(
        self, node: yaml.MappingNode, depth: int, ancestors: frozenset[int], loc: Location, start: int, end: int
    ) -> YNode | None:
        if node.tag != _MAP_TAG:
            self.fail(node, f"unsupported YAML tag {node.tag}")
            return None
        values: dict[str, YNode] = {}
        key_locs: dict[str, Location] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self.fail(key_node, "YAML merge keys (<<) are not supported; write the fields out")
                continue
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else _INVALID
            if not isinstance(key, str):
                if key is not _INVALID:
                    self.fail(key_node, f"mapping keys must be strings, got {_describe_value(key)}; quote it")
                elif not isinstance(key_node, yaml.ScalarNode):
                    self.fail(key_node, "mapping keys must be strings")
                continue
            key_loc = _mark_loc(self.source, key_node.start_mark)
            if key in values:
                first = key_locs[key]
                self.fail(key_node, f"duplicate key '{key}' (first at line {first.line})")
                continue
            child = self.convert(value_node, depth + 1, ancestors)
            if child is not None:
                values[key] = child
                key_locs[key] = key_loc
        return YNode("map", loc, values, key_locs, start=start, end=end)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.fail(node, f"invalid YAML value: {reason}")
            return _INVALID
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            if abs(value) > SAFE_INT:
                self.fail(node, "integer is out of range (must fit in ±2^53)")
                return _INVALID
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                self.fail(node, "numbers must be finite (no .inf / .nan)")
                return _INVALID
            return value
        self.fail(node, f"unsupported YAML value of type {type(value).__name__}; quote it to make it a string")
        return _INVALID


_INVALID: Any = object()


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def describe(node: YNode) -> str:
    """Human name of what a node holds, for 'expected X, got Y' messages."""
    if node.kind == "map":
        return "a mapping"
    if node.kind == "seq":
        return "a list"
    return _describe_value(node.value)


class Checker:
    """Collects located problems while validating a composed document."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, loc: Location, message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(loc, message))

    def raise_if_any(self) -> None:
        """Raise PolicyError when any problem was recorded."""
        if self.problems:
            raise PolicyError(self.problems)

    def mapping(
        self, node: YNode, what: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, YNode] | None:
        """Check a mapping's keys (unknown → did-you-mean, missing required) and return the known fields."""
        if node.kind != "map":
            self.add(node.loc, f"{what} must be a mapping, got {describe(node)}")
            return None
        out: dict[str, YNode] = {}
        for key, child in node.value.items():
            if key in allowed:
                out[key] = child
            else:
                self.add(node.key_locs[key], f"unknown field '{key}' in {what}{did_you_mean(key, allowed)}")
        for name in required:
            if name not in node.value:
                self.add(node.loc, f"{what} is missing required field '{name}'")
        return out

    def string(self, node: YNode, what: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        """A non-empty string, optionally matching `pattern`."""
        if node.kind != "scalar" or not isinstance(node.value, str):
            self.add(node.loc, f"{what} must be a string, got {describe(node)}")
            return None
        if not node.value.strip():
            self.add(node.loc, f"{what} must not be empty")
            return None
        if pattern is not None and not pattern.fullmatch(node.value):
            self.add(node.loc, f"{what} '{node.value}' must match {pattern.pattern}")
            return None
        return str(node.value)

    def sequence(self, node: YNode, what: str) -> list[YNode] | None:
        """A list of nodes."""
        if node.kind != "seq":
            self.add(node.loc, f"{what} must be a list, got {describe(node)}")
            return None
        return list(node.value)

    def strings(self, node: YNode, what: str) -> list[tuple[str, YNode]]:
        """A list of non-empty strings, each with its node."""
        items = self.sequence(node, what)
        out: list[tuple[str, YNode]] = []
        for item in items or []:
            value = self.string(item, f"each entry of {what}")
            if value is not None:
                out.append((value, item))
        return out

    def integer(self, node: YNode, what: str, *, minimum: int | None = None) -> int | None:
        """An integer (not a boolean), optionally at least `minimum`."""
        if node.kind != "scalar" or isinstance(node.value, bool) or not isinstance(node.value, int):
            self.add(node.loc, f"{what} must be an integer, got {describe(node)}")
            return None
        if minimum is not None and node.value < minimum:
            self.add(node.loc, f"{what} must be at least {minimum}, got {node.value}")
            return None
        return int(node.value)

    def choice(self, node: YNode, what: str, choices: Sequence[str]) -> str | None:
        """One of `choices`."""
        value = self.string(node, what)
        if value is None:
            return None
        if value not in choices:
            options = ", ".join(choices)
            self.add(node.loc, f"{what} '{value}' is not one of {options}{did_you_mean(value, choices)}")
            return None
        return value


def expression_location(node: YNode, text: str, line: int, column: int) -> Location:
    """Map a 1-based (line, column) inside a string scalar to the file position (best effort)."""
    value = node.value if isinstance(node.value, str) else ""
    lines = value.split("\n")
    line = max(1, min(line, len(lines)))
    offset = sum(len(part) + 1 for part in lines[: line - 1]) + max(0, column - 1)
    segments = _segments(node, text, value)
    if not segments:
        return node.loc
    pos = 0
    for seg_line, seg_col, seg_text in segments:
        if offset <= pos + len(seg_text):
            return Location(node.loc.file, seg_line, seg_col + offset - pos)
        pos += len(seg_text) + 1
    seg_line, seg_col, seg_text = segments[-1]
    return Location(node.loc.file, seg_line, seg_col + len(seg_text))


def _segments(node: YNode, text: str, value: str) -> list[tuple[int, int, str]] | None:
    """Source pieces (line, column, text) that join (by newline or space) into the scalar's value."""
    raw = text[node.start : node.end]
    first_line, first_col = node.loc.line, node.loc.column
    if node.style in ("|", ">"):
        header_end = raw.find("\n")
        if header_end < 0:
            return None
        body = raw[header_end + 1 :].split("\n")
        indents = [len(b) - len(b.lstrip(" ")) for b in body if b.strip()]
        indent = indents[0] if indents else 0
        segs = [(first_line + 1 + i, indent + 1, b[indent:]) for i, b in enumerate(body)]
        joiner = "\n" if node.style == "|" else " "
        while segs and not segs[-1][2].strip():
            segs.pop()
        joined = joiner.join(s[2] for s in segs)
        return segs if joined.rstrip() == value.rstrip() else None
    quote = 1 if node.style in ('"', "'") else 0
    inner = raw[quote : len(raw) - quote] if quote else raw
    pieces = inner.split("\n")
    segs = []
    for i, piece in enumerate(pieces):
        if i == 0:
            segs.append((first_line, first_col + quote, piece.rstrip(" ")))
        else:
            stripped = piece.lstrip(" ")
            segs.append((first_line + i, len(piece) - len(stripped) + 1, stripped.rstrip(" ")))
    joined = " ".join(s[2] for s in segs)
    return segs if joined == value else None
