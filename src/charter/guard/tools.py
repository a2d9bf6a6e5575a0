"""The gateway's tool checks for governed functions: the tools a call offers, and the tools its answer calls.

A governed function that takes OpenAI-style keyword arguments (`tools=`, `functions=`, `tool_choice=`) is checked
for those tools too; an answer (a dict, or an object with `model_dump()` like the OpenAI SDK's) that calls a tool
not yet checked is decided again with that tool, before the caller gets it: in enforce mode `LicenseDenied` is
raised and the answer is withheld. A streamed answer (an iterator or async iterator of chunks) is wrapped: the
chunk carrying a new tool call's name is decided before it is yielded. The decisions are audited by Charter as
any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

from charter.deployments.tools import BadToolShape, as_document, called_tools, request_tools

Check = Callable[[tuple[str, ...]], Any]
ACheck = Callable[[tuple[str, ...]], Awaitable[Any]]
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
    """Tool names already decided for one call, and the names of stream calls assembled from their pieces."""

    def __init__(self, decided: tuple[str, ...]) -> None:
        self.decided = decided
        self.pieces: dict[tuple[int, int], str] = {}

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


def check_answer(result: Any, decided: tuple[str, ...], check: Check) -> Any:
    """Decide the tools a returned answer calls; wrap a stream so each chunk is decided before it is yielded."""
    if _is_stream(result):
        return CheckedStream(result, decided, check)
    doc = as_document(result)
    if doc is not None:
        fresh = _Seen(decided).new(doc, stream=False)
        if fresh:
            check(decided + fresh)
    return result


async def acheck_answer(result: Any, decided: tuple[str, ...], check: ACheck, sync_check: Check) -> Any:
    """`check_answer` for async code (async iterators are wrapped too; a sync stream is decided synchronously)."""
    if hasattr(result, "__anext__"):
        return ACheckedStream(result, decided, check)
    if _is_stream(result):
        return CheckedStream(result, decided, sync_check)
    doc = as_document(result)
    if doc is not None:
        fresh = _Seen(decided).new(doc, stream=False)
        if fresh:
            await check(decided + fresh)
    return result


def _is_stream(value: Any) -> bool:
    return hasattr(value, "__next__") and not isinstance(value, str | bytes | Mapping)


class CheckedStream:
    """A sync stream of answer chunks whose new tool calls are decided before the chunk is yielded."""

    def __init__(self, inner: Any, decided: tuple[str, ...], check: Check) -> None:
        self._inner = inner
        self._seen = _Seen(decided)
        self._check = check

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        chunk = next(self._inner)
        doc = as_document(chunk)
        if doc is not None:
            fresh = self._seen.new(doc, stream=True)
            if fresh:
                self._check(self._seen.decided + fresh)
                self._seen.decided += fresh
        return chunk

    def __enter__(self) -> CheckedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self._inner, "close", None)
        if callable(close):
            close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ACheckedStream:
    """An async stream of answer chunks whose new tool calls are decided before the chunk is yielded."""

    def __init__(self, inner: Any, decided: tuple[str, ...], check: ACheck) -> None:
        self._inner = inner
        self._seen = _Seen(decided)
        self._check = check

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._inner.__anext__()
        doc = as_document(chunk)
        if doc is not None:
            fresh = self._seen.new(doc, stream=True)
            if fresh:
                await self._check(self._seen.decided + fresh)
                self._seen.decided += fresh
        return chunk

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
