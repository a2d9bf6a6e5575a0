"""RFC 8785 canonical JSON on the hot path: orjson where its output is provably identical, else the reference.

orjson sorts keys by code point and prints floats as Python does; RFC 8785 sorts by UTF-16 code unit and prints
numbers as ECMAScript does. The two agree on every string, every key below U+E000, every safe integer and every float
that is not integral and not below 1e-4; integral floats up to 2^53 are given to orjson pre-printed. Anything else
goes to the reference implementation (`charter.core.canonical`), which also raises for values JSON cannot carry.
A property test checks byte equality with the reference.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from charter.core.canonical import canonical_json

_MAX_SAFE = (1 << 53) - 1
_SORT = orjson.OPT_SORT_KEYS
_Fragment = orjson.Fragment


class _Slow(Exception):
    pass


def _prepare(value: Any) -> Any:
    """`value` with integral floats replaced by pre-printed fragments; raises _Slow for the reference path."""
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is int:
        if -_MAX_SAFE <= value <= _MAX_SAFE:
            return value
        raise _Slow
    if t is float:
        if not math.isfinite(value):
            raise _Slow
        if value.is_integer():
            if abs(value) <= _MAX_SAFE:
                return _Fragment(b"%d" % int(value))
            raise _Slow  # ECMAScript pads the shortest digits with zeros; leave that to the reference
        if abs(value) < 1e-4:
            raise _Slow  # Python prints 1e-6 <= |x| < 1e-4 with an exponent, ECMAScript positionally
        return value
    if t is dict:
        return prepare_dict(value)
    if t is list:
        items = [_prepare(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    raise _Slow


def prepare_dict(d: dict[str, Any]) -> dict[str, Any]:
    """A dict ready for orjson: same object when nothing needed changing."""
    out = None
    for k, v in d.items():
        if type(k) is not str or not (k.isascii() or max(k) < "\ue000"):
            raise _Slow
        t = type(v)
        if t is str or t is bool or v is None or (t is int and -_MAX_SAFE <= v <= _MAX_SAFE):
            continue
        p = _prepare(v)
        if p is not v:
            if out is None:
                out = dict(d)
            out[k] = p
    return d if out is None else out


def canonical_document(doc: dict[str, Any]) -> bytes:
    """`canonical(doc)` for a dict whose own keys are ASCII literals (entry documents): skips their key checks."""
    try:
        out = None
        for k, v in doc.items():
            t = type(v)
            if t is str or (t is int and -_MAX_SAFE <= v <= _MAX_SAFE):
                continue
            p = prepare_dict(v) if t is dict else _prepare(v)
            if p is not v:
                if out is None:
                    out = dict(doc)
                out[k] = p
        return orjson.dumps(doc if out is None else out, option=_SORT)
    except (_Slow, orjson.JSONEncodeError):
        return canonical_json(doc)


def canonical(value: Any) -> bytes:
    """Canonical UTF-8 bytes of a JSON value (RFC 8785), byte-identical to `charter.core.canonical.canonical_json`."""
    try:
        return orjson.dumps(prepare_dict(value) if type(value) is dict else _prepare(value), option=_SORT)
    except (_Slow, orjson.JSONEncodeError):
        return canonical_json(value)
