"""Token buckets per license (and deployment), configured on the deployment or the license."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take()` spends one or says no."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False

    def retry_after(self) -> float:
        """Seconds until the next token."""
        return max(0.0, (1.0 - self._tokens) / self.rate) if self.rate > 0 else 60.0


class Limiter:
    """Buckets keyed by (license, deployment); a bucket is rebuilt when its configured rate changes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def take(self, key: tuple[str, str], rate: float | None, burst: int | None) -> TokenBucket | None:
        """None when the call may go; the (empty) bucket when it is over its rate."""
        if rate is None:
            return None
        size = burst if burst is not None else max(1, int(rate))
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate or bucket.burst != max(1, size):
            bucket = self._buckets[key] = TokenBucket(rate, size, self._clock)
        return None if bucket.take() else bucket
