"""Tools in OpenAI-shaped calls: the ones a request offers, the ones an answer calls, and JSON that says two things.

Shared by the gateway (request bodies, JSON and SSE answers) and the SDK guard (the documents a governed function
takes and returns). Pure functions; the license check itself is `scope.check`.

A JSON object may repeat a key; parsers disagree on which copy counts (most keep the last, some the first, some
refuse). When a repeated key decides a call (`model`, `tools`, `functions`, `tool_choice` at the top of a request,
a tool's `type`/`function`/`name`, a tool call's `function`/`name`), the gateway and the model server could read two
different calls, so such a document is refused instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

# Keys whose repetition makes a document ambiguous, by where they sit.
_TOP = frozenset({"model", "tools", "functions", "tool_choice", "function_call"})
_TOOL = frozenset({"type", "function", "name", "custom"})
_CALLS = frozenset({"tool_calls", "function_call"})
_CALL = frozenset({"type", "function", "name", "index", "id"})
_CHOICE = frozenset({"message", "delta", "index"})
_ARGS = frozenset({"arguments"})
_ANSWER = frozenset({"choices"})
_SHAPES = frozenset({"none", "auto", "required"})


class AmbiguousDocument(ValueError):
    """A deciding key appears twice in one JSON object; the message names it."""


class BadToolShape(ValueError):
    """A tools field that cannot be read as a list of named tools (and so cannot be checked)."""


class _Obj(dict[str, Any]):
    """A parsed JSON object that remembers which keys it saw more than once."""

    __slots__ = ("repeated",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.repeated: frozenset[str] = frozenset()
        if len(self) != len(pairs):
            seen: set[str] = set()
            twice: set[str] = set()
            for key, _ in pairs:
                (twice if key in seen else seen).add(key)
            self.repeated = frozenset(twice)


def strict_loads(data: bytes | str) -> Any:
    """Parse JSON keeping track of repeated keys (slower than orjson: only used when a fast scan says it matters)."""
    return json.loads(data, object_pairs_hook=_Obj)


def _repeated(obj: Any, keys: frozenset[str], where: str) -> None:
    if isinstance(obj, _Obj) and obj.repeated & keys:
        key = sorted(obj.repeated & keys)[0]
        raise AmbiguousDocument(f"key '{key}' appears more than once in {where}")


def check_request_keys(doc: Any) -> None:
    """Raise `AmbiguousDocument` when a `strict_loads` request repeats a key that decides its tools or model."""
    _repeated(doc, _TOP, "the request body")
    if not isinstance(doc, dict):
        return
    for field in ("tools", "functions"):
        items = doc.get(field)
        if isinstance(items, list):
            for i, tool in enumerate(items):
                _repeated(tool, _TOOL, f"{field}[{i}]")
                if isinstance(tool, dict):
                    for inner in ("function", "custom"):
                        _repeated(tool.get(inner), _TOOL, f"{field}[{i}].{inner}")
    for field in ("tool_choice", "function_call"):
        choice = doc.get(field)
        _repeated(choice, _TOOL, field)
        if isinstance(choice, dict):
            _repeated(choice.get("function"), _TOOL, f"{field}.function")


def _named(tool: Any, inner: str) -> str | None:
    fn = tool.get(inner) if isinstance(tool, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if name is None and isinstance(tool, dict):
        name = tool.get("name")  # the Responses API's flat shape
    return name if isinstance(name, str) and name else None


def request_tools(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Every tool a request offers or forces: `tools[].function.name`, legacy `functions[].name`, and the function
    `tool_choice` / `function_call` name. A tool without a readable name is named `<kind>`, so the license refuses it.
    """
    names: list[str] = []
    for field in ("tools", "functions"):
        items = doc.get(field)
        if items is None:
            continue
        if not isinstance(items, list):
            raise BadToolShape(f"`{field}` must be a list of tools")
        for tool in items:
            if isinstance(tool, str) and tool:  # a bare name (SDK callers), checked as such
                names.append(tool)
                continue
            name = _named(tool, "function") if field == "tools" else _named({"function": tool}, "function")
            if name is None:
                kind = tool.get("type") if isinstance(tool, dict) else None
                name = f"<{kind if isinstance(kind, str) and kind != 'function' else 'unnamed'}>"
            names.append(name)
    for field in ("tool_choice", "function_call"):
        choice = doc.get(field)
        if choice is None or (isinstance(choice, str) and choice in _SHAPES):
            continue
        if not isinstance(choice, dict):
            raise BadToolShape(f"`{field}` must be one of {', '.join(sorted(_SHAPES))} or an object naming a tool")
        name = _named(choice, "function") or _named(choice, "custom")
        if name is None:
            kind = choice.get("type")
            name = f"<{kind if isinstance(kind, str) else 'unnamed'}>"
        if name not in names:
            names.append(name)
    return tuple(names)


def _choices(doc: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    _repeated(doc, _ANSWER, "the answer")
    choices = doc.get("choices") if isinstance(doc, dict) else None
    if not isinstance(choices, list):
        return
    for pos, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        _repeated(choice, _CHOICE, f"choices[{pos}]")
        index = choice.get("index", pos)
        for part in ("message", "delta"):
            msg = choice.get(part)
            if isinstance(msg, dict):
                _repeated(msg, _CALLS, f"choices[{pos}].{part}")
                yield (index if isinstance(index, int) else pos), msg


def called_tools(doc: Any) -> list[tuple[tuple[int, int], str | None]]:
    """The tool calls in an answer (a chat completion or one stream chunk): ((choice, call index), name or None).

    A name is None when this part of a stream does not carry one (a later piece of the same call). Raises
    `AmbiguousDocument` for a `strict_loads` document that repeats a deciding key.
    """
    out: list[tuple[tuple[int, int], str | None]] = []
    for choice, msg in _choices(doc):
        calls = msg.get("tool_calls")
        if isinstance(calls, list):
            for pos, call in enumerate(calls):
                if not isinstance(call, dict):
                    continue
                _repeated(call, _CALL, "a tool call")
                fn = call.get("function")
                _repeated(fn, _CALL, "a tool call's function")
                index = call.get("index", pos)
                raw = fn.get("name") if isinstance(fn, dict) else None
                if raw is None and isinstance(call.get("custom"), dict):
                    raw = call["custom"].get("name")
                out.append(((choice, index if isinstance(index, int) else pos), raw if isinstance(raw, str) else None))
        legacy = msg.get("function_call")
        if isinstance(legacy, dict):
            _repeated(legacy, _CALL, "a function call")
            raw = legacy.get("name")
            out.append(((choice, -1), raw if isinstance(raw, str) else None))
    return out


def argument_pieces(doc: Any) -> list[tuple[tuple[int, int], Any]]:
    """The `arguments` each tool call of an answer carries, keyed like `called_tools` ((choice, call index)): a
    whole answer's arguments, or one stream chunk's piece of them (pieces are joined in order by the caller). Raises
    `AmbiguousDocument` when a call repeats its `arguments`."""
    out: list[tuple[tuple[int, int], Any]] = []
    for choice, msg in _choices(doc):
        calls = msg.get("tool_calls")
        for pos, call in enumerate(calls if isinstance(calls, list) else []):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and "arguments" in fn:
                _repeated(fn, _ARGS, "a tool call's function")
                index = call.get("index", pos)
                out.append(((choice, index if isinstance(index, int) else pos), fn["arguments"]))
        legacy = msg.get("function_call")
        if isinstance(legacy, dict) and "arguments" in legacy:
            _repeated(legacy, _ARGS, "a function call")
            out.append(((choice, -1), legacy["arguments"]))
    return out


def joined_arguments(pieces: list[Any]) -> Any:
    """A streamed call's arguments from its pieces (`argument_pieces`, in order): text pieces joined, a lone object
    as it is; None when the pieces mix text and objects (nothing says how they join)."""
    if all(isinstance(p, str) for p in pieces):
        return "".join(pieces)
    return pieces[0] if len(pieces) == 1 else None


def mentions_calls(data: bytes) -> bool:
    """Cheap scan: could this JSON text carry a tool call (literally, or behind `\\u` escapes in its keys)?"""
    return b"_call" in data or b"\\u" in data  # `tool_calls`, `function_call`: two scans, not three


def as_document(value: Any) -> Any:
    """A plain document from what a Python client returns (a dict, or a pydantic model like the OpenAI SDK's)."""
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None) or getattr(value, "to_dict", None)
    if callable(dump):
        try:
            return dump()
        except Exception:
            return None
    return None


def call_arguments(doc: Any) -> list[tuple[str, Any]]:
    """(name, arguments) of every named tool call in a whole answer; `arguments` as sent (OpenAI sends a JSON
    string). Raises `AmbiguousDocument` like `called_tools`."""
    out: list[tuple[str, Any]] = []
    for _, msg in _choices(doc):
        calls = msg.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                out.append((fn["name"], fn.get("arguments")))
        legacy = msg.get("function_call")
        if isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
            out.append((legacy["name"], legacy.get("arguments")))
    return out
