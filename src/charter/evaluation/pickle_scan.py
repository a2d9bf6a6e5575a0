"""Symbolic walk over pickle opcodes (protocols 0-5) that records every import and never executes anything.

A small stack machine mirrors the unpickler with inert values, so STACK_GLOBAL operands are resolved even
when they come from the memo, and joblib files (raw array bytes between pickle opcodes) can be followed.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

PICKLE_MAGIC_MAX_PROTOCOL = 5
_MAX_DEPTH = 4


class Stream(Protocol):
    def read(self, n: int = ..., /) -> bytes: ...
    def readline(self, size: int = ..., /) -> bytes: ...
    def tell(self) -> int: ...
    def seek(self, pos: int, whence: int = ..., /) -> int | None: ...


class PickleMalformed(Exception):
    """The opcode stream cannot be followed further."""

    def __init__(self, message: str, pos: int | None) -> None:
        super().__init__(message)
        self.pos = pos


@dataclass(frozen=True)
class GlobalRef:
    module: str
    name: str


@dataclass
class _Obj:
    func: Any
    args: Any
    state: Any = None


@dataclass
class _Dict:
    items: list[tuple[Any, Any]] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.items:
            if k == key:
                return v
        return default

    def has(self, key: str) -> bool:
        return any(k == key for k, _ in self.items)


class _Opaque:
    def __init__(self, what: str) -> None:
        self.what = what


@dataclass
class PickleEvents:
    """What a walk saw: imports with byte positions, unresolvable imports, embedded payloads, parse outcome."""

    globals: list[tuple[GlobalRef, int, str]] = field(default_factory=list)
    computed_globals: list[int] = field(default_factory=list)
    extensions: list[tuple[int, int]] = field(default_factory=list)
    embedded: list[tuple[int, bytes]] = field(default_factory=list)
    protocols: set[int] = field(default_factory=set)
    pickles: int = 0
    joblib_arrays: int = 0
    trailing_bytes: int = 0
    error: str | None = None
    error_pos: int | None = None
    root: Any = None  # inert value of the last pickle (lists, tuples, _Dict, GlobalRef, _Obj), for diagnostics


def looks_like_pickle(head: bytes) -> bool:
    """A protocol 2+ pickle starts with PROTO and a known protocol number."""
    return len(head) >= 2 and head[0] == 0x80 and head[1] <= PICKLE_MAGIC_MAX_PROTOCOL


def _embedded_payload(data: bytes) -> bool:
    return len(data) >= 8 and (looks_like_pickle(data[:2]) or data[:4] == b"PK\x03\x04")


class _Walker:
    def __init__(self, stream: Stream, size: int, events: PickleEvents) -> None:
        self.stream = stream
        self.size = size
        self.events = events

    def walk_one(self, depth: int) -> None:
        stack: list[Any] = []
        metastack: list[list[Any]] = []
        memo: dict[int, Any] = {}

        def pop_mark() -> list[Any]:
            nonlocal stack
            items = stack
            stack = metastack.pop()
            return items

        pos: int | None = None
        try:
            for opcode, raw_arg, pos in pickletools.genops(self.stream):  # type: ignore[arg-type]
                arg: Any = raw_arg
                name = opcode.name
                if name == "PROTO":
                    self.events.protocols.add(int(arg))
                elif name in {"FRAME", "READONLY_BUFFER"}:
                    pass
                elif name == "STOP":
                    self.events.pickles += 1
                    self.events.root = stack.pop()
                    return
                elif name == "MARK":
                    metastack.append(stack)
                    stack = []
                elif name in {"NONE", "NEWTRUE", "NEWFALSE"}:
                    stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
                elif name in {"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "BINSTRING", "SHORT_BINSTRING"}:
                    if isinstance(arg, bytes | bytearray) and _embedded_payload(bytes(arg[:8])):
                        self.events.embedded.append((pos or 0, bytes(arg)))
                    stack.append(arg)
                elif opcode.arg is not None and name not in _ARG_OPS:
                    stack.append(arg)  # every other opcode with an argument pushes a literal
                elif name == "NEXT_BUFFER":
                    stack.append(_Opaque("buffer"))
                elif name == "EMPTY_LIST":
                    stack.append([])
                elif name == "EMPTY_TUPLE":
                    stack.append(())
                elif name == "EMPTY_DICT":
                    stack.append(_Dict())
                elif name == "EMPTY_SET":
                    stack.append(_Opaque("set"))
                elif name == "APPEND":
                    value = stack.pop()
                    if isinstance(stack[-1], list):
                        stack[-1].append(value)
                elif name == "APPENDS":
                    items = pop_mark()
                    if isinstance(stack[-1], list):
                        stack[-1].extend(items)
                elif name == "LIST":
                    items = pop_mark()
                    stack.append(list(items))
                elif name == "TUPLE":
                    items = pop_mark()
                    stack.append(tuple(items))
                elif name in {"TUPLE1", "TUPLE2", "TUPLE3"}:
                    k = int(name[-1])
                    items = stack[-k:]
                    if len(items) != k:
                        raise IndexError("stack underflow")
                    del stack[-k:]
                    stack.append(tuple(items))
                elif name == "DICT":
                    items = pop_mark()
                    stack.append(_Dict(list(zip(items[::2], items[1::2], strict=False))))
                elif name == "SETITEM":
                    value, key = stack.pop(), stack.pop()
                    if isinstance(stack[-1], _Dict):
                        stack[-1].items.append((key, value))
                elif name == "SETITEMS":
                    items = pop_mark()
                    if isinstance(stack[-1], _Dict):
                        stack[-1].items.extend(zip(items[::2], items[1::2], strict=False))
                elif name == "ADDITEMS":
                    pop_mark()
                    if not stack:
                        raise IndexError("ADDITEMS without a target set")
                elif name == "FROZENSET":
                    pop_mark()
                    stack.append(_Opaque("frozenset"))
                elif name == "POP":
                    if stack:
                        stack.pop()
                    else:
                        pop_mark()
                elif name == "POP_MARK":
                    pop_mark()
                elif name == "DUP":
                    stack.append(stack[-1])
                elif name in {"GET", "BINGET", "LONG_BINGET"}:
                    stack.append(memo[int(arg)])
                elif name in {"PUT", "BINPUT", "LONG_BINPUT"}:
                    memo[int(arg)] = stack[-1]
                elif name == "MEMOIZE":
                    memo[len(memo)] = stack[-1]
                elif name in {"EXT1", "EXT2", "EXT4"}:
                    self.events.extensions.append((pos or 0, int(arg)))
                    stack.append(_Opaque("extension"))
                elif name in {"GLOBAL", "INST"}:
                    module, _, gname = str(arg).partition(" ")
                    ref = GlobalRef(module, gname)
                    self.events.globals.append((ref, pos or 0, name))
                    if name == "GLOBAL":
                        stack.append(ref)
                    else:
                        items = pop_mark()
                        stack.append(_Obj(ref, tuple(items)))
                elif name == "STACK_GLOBAL":
                    gname_v, module_v = stack.pop(), stack.pop()
                    if isinstance(module_v, str) and isinstance(gname_v, str):
                        ref = GlobalRef(module_v, gname_v)
                        self.events.globals.append((ref, pos or 0, name))
                        stack.append(ref)
                    else:
                        self.events.computed_globals.append(pos or 0)
                        stack.append(_Opaque("computed global"))
                elif name == "OBJ":
                    items = pop_mark()
                    stack.append(_Obj(items[0], tuple(items[1:])))
                elif name in {"REDUCE", "NEWOBJ"}:
                    args = stack.pop()
                    stack.append(_Obj(stack.pop(), args))
                elif name == "NEWOBJ_EX":
                    kwargs, args = stack.pop(), stack.pop()
                    stack.append(_Obj(stack.pop(), (args, kwargs)))
                elif name == "BUILD":
                    state = stack.pop()
                    target = stack[-1]
                    if isinstance(target, _Obj):
                        target.state = state
                        if isinstance(target.func, GlobalRef) and target.func.name == "NumpyArrayWrapper":
                            self._skip_joblib_array(state, depth)
                elif name == "BINPERSID":
                    stack.pop()
                    stack.append(_Opaque("persistent id"))
                elif name == "PERSID":
                    stack.append(_Opaque("persistent id"))
                else:
                    raise PickleMalformed(f"opcode {name} is not understood by the scanner", pos)
        except PickleMalformed:
            raise
        except (ValueError, IndexError, KeyError, TypeError, EOFError) as exc:
            raise PickleMalformed(str(exc) or type(exc).__name__, pos) from None
        raise PickleMalformed("pickle ended without STOP", pos)

    def _skip_joblib_array(self, state: Any, depth: int) -> None:
        """joblib writes each array's bytes right after its wrapper: skip them (object arrays are a pickle)."""
        if not isinstance(state, _Dict):
            raise PickleMalformed("joblib array wrapper without a state dict", self.stream.tell())
        dtype, shape = state.get("dtype"), state.get("shape")
        descr = dtype.args[0] if isinstance(dtype, _Obj) and isinstance(dtype.args, tuple) and dtype.args else None
        if not isinstance(descr, str) or not isinstance(shape, tuple) or not all(isinstance(d, int) for d in shape):
            raise PickleMalformed("joblib array wrapper with an unreadable dtype or shape", self.stream.tell())
        self.events.joblib_arrays += 1
        try:
            dt = np.dtype(descr)
        except (TypeError, ValueError) as exc:
            raise PickleMalformed(f"joblib array with unknown dtype {descr!r}", self.stream.tell()) from exc
        if dt.hasobject:
            if depth >= _MAX_DEPTH:
                raise PickleMalformed("joblib object arrays nested too deeply", self.stream.tell())
            self.walk_one(depth + 1)
            return
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self.stream.read(1)
            if len(pad) != 1:
                raise PickleMalformed("joblib array padding missing", self.stream.tell())
            self._advance(pad[0])
        count = 1
        for d in shape:
            count *= d
        self._advance(count * dt.itemsize)

    def _advance(self, nbytes: int) -> None:
        here = self.stream.tell()
        if nbytes < 0 or here + nbytes > self.size:
            raise PickleMalformed(f"joblib array of {nbytes} bytes runs past the end of the file", here)
        self.stream.seek(here + nbytes)


# Opcodes whose argument is not a value to push.
_ARG_OPS = frozenset(
    {
        "PROTO", "FRAME", "GET", "BINGET", "LONG_BINGET", "PUT", "BINPUT", "LONG_BINPUT", "EXT1", "EXT2", "EXT4",
        "GLOBAL", "INST", "PERSID",
    }
)  # fmt: skip


def walk_pickles(stream: Stream, size: int, *, start: int = 0) -> PickleEvents:
    """Walk consecutive pickles from `start` (as legacy PyTorch files hold); stop at non-pickle data."""
    events = PickleEvents()
    walker = _Walker(stream, size, events)
    stream.seek(start)
    first = True
    while True:
        here = stream.tell()
        head = stream.read(2)
        stream.seek(here)
        if not head:
            break
        if not first and not looks_like_pickle(head):
            events.trailing_bytes = size - here
            break
        try:
            walker.walk_one(0)
        except PickleMalformed as exc:
            events.error, events.error_pos = str(exc), exc.pos
            break
        first = False
    return events
