"""Verified API keys cached briefly in memory, keyed by the key's SHA-256 (the key itself is never kept or logged)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from charter.auth.model import Actor
from charter.core.errors import Unauthenticated

Verify = Callable[[str], Actor]


class KeyCache:
    """`await actor(key)`: a DB lookup at most once per key per `ttl_s`; concurrent misses share one lookup.

    Failures are cached for a shorter `negative_ttl_s`, so a flood of bad keys does not become a flood of queries.
    """

    def __init__(
        self,
        verify: Verify,
        *,
        ttl_s: float = 5.0,
        negative_ttl_s: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verify = verify
        self._ttl = ttl_s
        self._negative_ttl = negative_ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, Actor | Unauthenticated]] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Future[Actor]] = {}

    async def actor(self, key: str) -> Actor:
        """The actor for a presented key, or raise `Unauthenticated`."""
        digest = hashlib.sha256(key.encode()).digest()
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > self._clock():
            if isinstance(hit[1], Actor):
                return hit[1]
            raise hit[1]
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Actor] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            actor = await asyncio.to_thread(self._verify, key)
        except Unauthenticated as exc:
            self._store(digest, self._negative_ttl, exc)
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._inflight.pop(digest, None)
        self._store(digest, self._ttl, actor)
        future.set_result(actor)
        return actor

    def _store(self, digest: bytes, ttl: float, value: Actor | Unauthenticated) -> None:
        self._entries[digest] = (self._clock() + ttl, value)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
