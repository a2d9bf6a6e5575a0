"""Login throttling: a sliding one-minute window per client address and per user name, in process memory."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0
MAX_KEYS = 50_000  # bound memory under a spray of distinct names; oldest keys go first


class LoginLimiter:
    """Counts login attempts (successful or not) so a guesser cannot learn anything from being let through."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, *keys: str) -> float:
        """Record one attempt under every key; returns 0 when allowed, else seconds until the next is allowed.

        A refused attempt is not counted, so a client that waits gets in again after the window.
        """
        now = self._clock()
        with self._lock:
            queues = [self._queue(k, now) for k in keys]
            waits = [q[0] + WINDOW_S - now for q in queues if len(q) >= self.per_minute]
            if waits:
                return max(1.0, max(waits))
            for q in queues:
                q.append(now)
            return 0.0

    def _queue(self, key: str, now: float) -> deque[float]:
        q = self._hits.pop(key, None)
        if q is None:
            q = deque()
            if len(self._hits) >= MAX_KEYS:
                del self._hits[next(iter(self._hits))]
        while q and q[0] <= now - WINDOW_S:
            q.popleft()
        self._hits[key] = q  # re-insert: dict order doubles as least-recently-used order
        return q
