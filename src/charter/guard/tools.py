"""The gateway's tool checks for governed functions: the tools a call offers, and the tools its answer calls.

A governed function that takes OpenAI-style keyword arguments (`tools=`, `functions=`, `tool_choice=`) is checked
for those tools too; an answer (a dict, or an object with `model_dump()` like the OpenAI SDK's) that calls a tool
not yet checked is decided again with that tool, before the caller gets it: in enforce mode `LicenseDenied` is
raised and the answer is withheld. A streamed answer (an iterator or async iterator of chunks) is wrapped: the
chunk carrying a new tool call's name is decided before it is yielded.

Calls of tools with argument conditions or an approval in the license (the decision's `ruled_tools`) are decided
with their arguments (`answer_calls`), as the gateway decides them: in a stream, the chunks from the first one of
such a call to the end are held until its arguments are whole, then decided, then yielded (or withheld). The
decisions are audited by Charter as any other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import orjson

from charter.deployments.tools import (
    BadToolShape,
    argument_pieces,
    as_document,
    call_arguments,
    called_tools,
    joined_arguments,
    request_tools,
)

# (the tools to decide, the answer's calls of ruled tools with their arguments)
Check = Callable[[tuple[str, ...], list[dict[str, Any]]], Any]
ACheck = Callable[[tuple[str, ...], list[dict[str, Any]]], Awaitable[Any]]
_FIELDS = ("tools", "functions", "tool_choice", "function_call")


def offered(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """The tools a call's OpenAI-style keyword arguments offer or force (none when it has no such argument)."""
    fields = {k: kwargs[k] for k in _FIELDS if kwargs.get(k) is not None}
    if not fields:
        return ()
    try:
        return request_tools(fields)
    except BadToolShape:
        return ("<unreadable tools>",)  # a license never lists it: the call is refused


class _Seen:
    """Tool names already decided for one call, the names of stream calls assembled from their pieces, and the
    argument pieces of ruled tools' calls."""

    def __init__(self, decided: tuple[str, ...], ruled: frozenset[str] = frozenset()) -> None:
        self.decided = decided
        self.ruled = ruled
        self.pieces: dict[tuple[int, int], str] = {}
        self.args: dict[tuple[int, int], list[Any]] = {}

    def new(self, doc: Any, *, stream: bool) -> tuple[str, ...]:
        """Names in `doc` not decided yet (a stream's name pieces are joined: the assembled name is decided)."""
        fresh: list[str] = []
        for key, name in called_tools(doc):
            if stream:
                if key in self.pieces and not name:
                    continue
                name = self.pieces.get(key, "") + (name or "")
                self.pieces[key] = name
            full = name or "<unnamed>"
            if full not in self.decided and full not in fresh:
                fresh.append(full)
        return tuple(fresh)

    def collect(self, doc: Any) -> bool:
        """Keep the argument pieces of ruled tools' calls in a stream chunk; True once any such call was seen."""
        if not self.ruled:
            return False
        for key, piece in argument_pieces(doc):
            if self.pieces.get(key) in self.ruled:
                self.args.setdefault(key, []).append(piece)
        return any(name in self.ruled for name in self.pieces.values())

    def streamed_calls(self) -> list[dict[str, Any]]:
        """The ruled calls of a stream, their argument pieces joined."""
        out = []
        for key, name in self.pieces.items():
            if name in self.ruled:
                pieces = self.args.get(key, [])
                raw = joined_arguments(pieces)
                out.append(_call(name, pieces if raw is None else raw))  # mixed pieces: sent as a list, refused
        return out


def _call(name: str, arguments: Any) -> dict[str, Any]:
    """An `answer_calls` item: arguments as sent when a JSON text or object, else their JSON (refused by Charter)."""
    if not isinstance(arguments, str | dict):
        arguments = orjson.dumps(arguments, default=str).decode()
    return {"tool": name, "arguments": arguments}


def _whole(doc: Any, decided: tuple[str, ...], ruled: frozenset[str]) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """A whole answer: the new names to decide and its calls of ruled tools (nothing to decide: both empty)."""
    fresh = _Seen(decided).new(doc, stream=False)
    calls = [_call(name, args) for name, args in call_arguments(doc) if name in ruled]
    return (decided + fresh if fresh or calls else ()), calls


def check_answer(result: Any, decided: tuple[str, ...], check: Check, ruled: frozenset[str] = frozenset()) -> Any:
    """Decide the tools a returned answer calls; wrap a stream so each chunk is decided before it is yielded."""
    if _is_stream(result):
        return CheckedStream(result, decided, check, ruled)
    doc = as_document(result)
    if doc is not None:
        tools, calls = _whole(doc, decided, ruled)
        if tools:
            check(tools, calls)
    return result


async def acheck_answer(
    result: Any, decided: tuple[str, ...], check: ACheck, sync_check: Check, ruled: frozenset[str] = frozenset()
) -> Any:
    """`check_answer` for async code (async iterators are wrapped too; a sync stream is decided synchronously)."""
    if hasattr(result, "__anext__"):
        return ACheckedStream(result, decided, check, ruled)
    if _is_stream(result):
        return CheckedStream(result, decided, sync_check, ruled)
    doc = as_document(result)
    if doc is not None:
        tools, calls = _whole(doc, decided, ruled)
        if tools:
            await check(tools, calls)
    return result


def _is_stream(value: Any) -> bool:
    return hasattr(value, "__next__") and not isinstance(value, str | bytes | Mapping)


class CheckedStream:
    """A sync stream of answer chunks whose new tool calls are decided before the chunk is yielded; from the first
    chunk of a ruled tool's call on, the rest is held until the stream ends and its calls are decided whole."""

    def __init__(self, inner: Any, decided: tuple[str, ...], check: Check, ruled: frozenset[str] = frozenset()) -> None:
        self._inner = inner
        self._seen = _Seen(decided, ruled)
        self._check = check
        self._held: deque[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._held is not None:
            if self._held:
                return self._held.popleft()
            raise StopIteration
        chunk = next(self._inner)
        if not self._see(chunk):
            return chunk
        held = deque([chunk])
        for more in self._inner:
            held.append(more)
            self._see(more)
        self._check(self._seen.decided, self._seen.streamed_calls())
        self._held = held
        return held.popleft()

    def _see(self, chunk: Any) -> bool:
        """Decide a chunk's new names; True once a ruled tool's call has begun (hold from here)."""
        doc = as_document(chunk)
        if doc is None:
            return False
        fresh = self._seen.new(doc, stream=True)
        if fresh:
            self._check(self._seen.decided + fresh, [])
            self._seen.decided += fresh
        return self._seen.collect(doc)

    def __enter__(self) -> CheckedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self._inner, "close", None)
        if callable(close):
            close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ACheckedStream:
    """`CheckedStream` for an async stream of answer chunks."""

    def __init__(
        self, inner: Any, decided: tuple[str, ...], check: ACheck, ruled: frozenset[str] = frozenset()
    ) -> None:
        self._inner = inner
        self._seen = _Seen(decided, ruled)
        self._check = check
        self._held: deque[Any] | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._held is not None:
            if self._held:
                return self._held.popleft()
            raise StopAsyncIteration
        chunk = await self._inner.__anext__()
        if not await self._see(chunk):
            return chunk
        held = deque([chunk])
        while True:
            try:
                more = await self._inner.__anext__()
            except StopAsyncIteration:
                break
            held.append(more)
            await self._see(more)
        await self._check(self._seen.decided, self._seen.streamed_calls())
        self._held = held
        return held.popleft()

    async def _see(self, chunk: Any) -> bool:
        doc = as_document(chunk)
        if doc is None:
            return False
        fresh = self._seen.new(doc, stream=True)
        if fresh:
            await self._check(self._seen.decided + fresh, [])
            self._seen.decided += fresh
        return self._seen.collect(doc)

    async def __aenter__(self) -> ACheckedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        close = getattr(self._inner, "aclose", None) or getattr(self._inner, "close", None)
        if callable(close):
            out = close()
            if hasattr(out, "__await__"):
                await out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
