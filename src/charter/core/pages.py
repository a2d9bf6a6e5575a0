"""One page of a list: `{items, next}`, where `next` is an opaque cursor for the following page (null on the last).

The cursor encodes the position after the page's last item (`o<offset>`, base64url without padding). Clients pass
it back unchanged as `cursor`; they must not build or parse it. Lists are in a stable order (name, or newest first),
so walking the pages visits each item once while the list does not change.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from charter.core.errors import InvalidInput

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1
CURSOR_MAX_LENGTH = 24


class Page(BaseModel, Generic[T]):
    """A page of a list and the cursor of the next page (null when this is the last)."""

    items: list[T]
    next: str | None = Field(default=None, description="Pass as `cursor` to get the next page; null on the last.")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor stands for (0 for none); anything not made by `encode_cursor` is invalid input."""
    if cursor is None:
        return 0
    bad = InvalidInput("cursor: not a cursor from this list; pass the previous page's `next` unchanged", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    digits = raw[1:]
    if not raw.startswith("o") or not digits.isdigit() or not digits.isascii() or len(digits) > 10:
        raise bad
    offset = int(digits)
    if offset > MAX_OFFSET or encode_cursor(offset) != cursor:
        raise bad
    return offset


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def paginate(items: Sequence[T], cursor: str | None, limit: int) -> Page[T]:
    """The page of `items` (the whole list, in its stable order) that starts at `cursor`."""
    start, size = decode_cursor(cursor), check_limit(limit)
    end = start + size
    return Page[T](items=list(items[start:end]), next=encode_cursor(end) if end < len(items) else None)


def window(cursor: str | None, limit: int, cap: int) -> tuple[int, int]:
    """(offset, N) for a source that returns its newest N items (N at most `cap`): one more item than the page shows
    tells whether the page is the last one."""
    start, size = decode_cursor(cursor), check_limit(limit)
    return start, max(1, min(start + size + 1, cap))


def from_window(items: Sequence[T], start: int, limit: int, cap: int) -> Page[T]:
    """The page of a newest-N fetch made with `window`: the source reaches back `cap` items at most."""
    end = start + limit
    more = len(items) > end and end < cap
    return Page[T](items=list(items[start:end]), next=encode_cursor(end) if more else None)
