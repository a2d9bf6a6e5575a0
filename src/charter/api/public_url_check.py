"""Warn when CHARTER_PUBLIC_URL names an address nothing answers at: tokens, status lists and checkpoints name it.

An unset public URL is this process's own listening address (`charter.settings.public_url`), so only a configured
one is probed, from a task started with the server, until it answers or the deadline passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from charter.bootstrap import Container

log = logging.getLogger("charter.server")

PROBE_PATH = "/healthz"
DEADLINE_S = 20.0
RETRY_S = 1.0


async def answers(url: str, *, deadline_s: float = DEADLINE_S, retry_s: float = RETRY_S) -> str | None:
    """None once `url`/healthz answers like a Charter process; else why not, after `deadline_s`."""
    end = time.monotonic() + deadline_s
    why = "no answer"
    timeout = aiohttp.ClientTimeout(total=min(5.0, deadline_s))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                async with session.get(url + PROBE_PATH, allow_redirects=False) as resp:
                    body = await resp.json(content_type=None) if resp.status == 200 else None
                    if isinstance(body, dict) and body.get("status") == "ok":
                        return None
                    why = f"HTTP {resp.status} without Charter's health answer"
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                why = f"{type(exc).__name__}: {exc}"[:200]
            if time.monotonic() + retry_s > end:
                return why
            await asyncio.sleep(retry_s)


def wire(container: Container) -> None:
    """Probe a configured public URL once the server runs; a warning names it when nothing answers there."""
    configured = container.settings.public_url
    if not configured:
        return
    url = configured.rstrip("/")
    task: dict[str, asyncio.Task[None]] = {}

    async def probe() -> None:
        why = await answers(url, deadline_s=DEADLINE_S, retry_s=RETRY_S)
        if why is not None:
            log.warning(
                "CHARTER_PUBLIC_URL=%s does not answer at %s (%s): license tokens, status lists and checkpoints name "
                "it; set it to the URL clients reach this deployment at (the load balancer's in scale-out)",
                url,
                PROBE_PATH,
                why,
            )

    async def start() -> None:
        task["probe"] = asyncio.create_task(probe(), name="charter-public-url-probe")

    async def stop() -> None:
        t = task.pop("probe", None)
        if t is not None:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    container.lifespan.add(start, stop)
