"""The one place Charter reads the time, so tests can pin it.

Domain code calls `utcnow()`; nothing else reads the wall clock for decisions about expiry, windows or re-audits.
Tests (and simulations) pin it with `pinned()` and move it with `ManualClock.advance()` instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_source: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """Timezone-aware UTC now (the pinned clock's time while one is pinned)."""
    if _source is not None:
        return _source()
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat(value: datetime) -> str:
    """RFC 3339 with a `Z` suffix."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = as_utc(start)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, /, **units: float) -> datetime:
        """Move forward by `delta` or by keyword units (`days=`, `seconds=`, ...); returns the new time."""
        step = delta if delta is not None else timedelta(**units)
        if step < timedelta(0):
            raise ValueError("a clock does not go backwards")
        self.now += step
        return self.now


@contextmanager
def pinned(start: datetime | None = None) -> Iterator[ManualClock]:
    """Pin `utcnow()` for this process to a manual clock starting at `start` (default: now)."""
    global _source
    clock = ManualClock(start or datetime.now(UTC))
    previous, _source = _source, clock
    try:
        yield clock
    finally:
        _source = previous
