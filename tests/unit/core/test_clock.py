"""The pinned clock: domain code reads `utcnow()`, tests move it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from charter.core import clock
from charter.core.clock import pinned, utcnow


def test_pinned_clock_moves_only_when_told_and_is_released() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pinned(start) as c:
        assert utcnow() == start and utcnow() == start
        assert c.advance(days=180) == start + timedelta(days=180) == utcnow()
        with pytest.raises(ValueError, match="backwards"):
            c.advance(timedelta(seconds=-1))
        with pinned(start - timedelta(days=1)):
            assert utcnow() == start - timedelta(days=1)  # nested pins restore the outer one
        assert utcnow() == start + timedelta(days=180)
    assert clock._source is None
    assert abs((utcnow() - datetime.now(UTC)).total_seconds()) < 60


def test_naive_times_are_utc() -> None:
    assert clock.as_utc(datetime(2026, 1, 1)).tzinfo is UTC
    assert clock.isoformat(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
