"""Stopping a server never hangs on one hook: each stop hook is bounded, the others still run, in reverse order."""

from __future__ import annotations

import asyncio

import pytest

from charter.core.lifespan import Lifespan


def test_stop_hooks_run_in_reverse_order_and_a_hung_or_failing_one_does_not_stop_the_rest(
    capfd: pytest.CaptureFixture[str],
) -> None:
    ran: list[str] = []
    never = asyncio.Event()

    async def first() -> None:
        ran.append("first")

    async def hangs() -> None:
        ran.append("hangs")
        await never.wait()

    async def fails() -> None:
        ran.append("fails")
        raise RuntimeError("boom")

    life = Lifespan()
    for hook in (first, hangs, fails):
        life.add(stop=hook)
    hung = asyncio.run(life.stop(timeout=0.05))
    assert ran == ["fails", "hangs", "first"]
    assert hung == [hangs.__qualname__]
    assert "Current thread" in capfd.readouterr().err  # every thread's stack, to find what it waited on
