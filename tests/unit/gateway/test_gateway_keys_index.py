"""The verified-key cache and the live index's refresh/degraded bookkeeping."""

from __future__ import annotations

import asyncio
import threading

import pytest

from charter.auth.model import Actor
from charter.core.errors import Unauthenticated
from charter.deployments.index import Snapshot
from charter.gateway.index import LiveIndex
from charter.gateway.keys import KeyCache


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_key_cache_ttl_negative_cache_and_shared_lookups() -> None:
    calls: list[str] = []
    gate = threading.Event()

    def verify(key: str) -> Actor:
        calls.append(key)
        gate.wait(5)
        if key == "bad":
            raise Unauthenticated("nope", code="invalid_api_key")
        return Actor(id="p1", kind="app", name="portal")

    clock = Clock()
    cache = KeyCache(verify, ttl_s=5, negative_ttl_s=1, clock=clock)

    async def run() -> None:
        first = [asyncio.create_task(cache.actor("good")) for _ in range(20)]
        await asyncio.sleep(0.05)
        gate.set()
        actors = await asyncio.gather(*first)
        assert {a.ref for a in actors} == {"app:portal"}
        assert calls == ["good"]  # twenty concurrent misses, one lookup
        await cache.actor("good")
        assert calls == ["good"]
        clock.t += 5.1
        await cache.actor("good")
        assert calls == ["good", "good"]
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                await cache.actor("bad")
        assert calls.count("bad") == 1
        clock.t += 1.1
        with pytest.raises(Unauthenticated):
            await cache.actor("bad")
        assert calls.count("bad") == 2

    asyncio.run(run())
    assert "good" not in repr(cache._entries)  # only digests are kept


def test_live_index_reloads_on_change_and_tracks_degraded_mode() -> None:
    clock = Clock()
    state = {"version": 1, "fail": False, "loads": 0}

    def probe() -> int:
        if state["fail"]:
            raise ConnectionError("db down")
        return state["version"]

    def load() -> Snapshot:
        state["loads"] += 1
        return Snapshot(version=state["version"])

    index = LiveIndex(probe, load, poll_s=0.5, clock=clock)
    assert index.degraded_since(clock.t) == clock.t  # never loaded: degraded

    async def run() -> None:
        assert await index.refresh()
        assert not await index.refresh()  # unchanged probe: no reload
        assert state["loads"] == 1 and index.degraded_since(clock.t) is None
        state["version"] = 2
        assert await index.refresh() and index.snapshot.version == 2
        state["fail"] = True
        clock.t += 1
        failed_at = clock.t
        assert not await index.refresh()
        clock.t += 3
        await index.refresh()
        assert index.degraded_since(clock.t) == failed_at  # since the first failure
        assert index.snapshot.version == 2  # the last good snapshot stays
        state["fail"] = False
        await index.refresh()
        assert index.degraded_since(clock.t) is None
        clock.t += 10  # a probe that has not come back for a while counts as stale
        assert index.degraded_since(clock.t) is not None

    asyncio.run(run())


def test_live_index_wakes_from_another_thread() -> None:
    versions = iter(range(1, 1000))
    current = {"v": 0}

    def probe() -> int:
        return current["v"]

    def load() -> Snapshot:
        return Snapshot(version=current["v"])

    index = LiveIndex(probe, load, poll_s=30)

    async def run() -> None:
        await index.start()
        try:
            current["v"] = next(versions)
            threading.Thread(target=index.wake).start()
            for _ in range(100):
                if index.snapshot.version == current["v"]:
                    break
                await asyncio.sleep(0.01)
            assert index.snapshot.version == current["v"]
        finally:
            await index.stop()

    asyncio.run(run())
