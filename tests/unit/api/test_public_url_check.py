"""A configured public URL that nothing answers at is warned about; one that answers like Charter is not."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from starlette.testclient import TestClient

from charter.api import public_url_check
from charter.api.public_url_check import answers
from charter.bootstrap import Container
from charter.server import Dispatcher
from tests.support.server import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/healthz", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def _charter_health(_: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok", "version": "x"})


async def _something_else(_: web.Request) -> web.StreamResponse:
    return web.json_response({"hello": "world"})


def test_a_url_answering_like_charter_passes() -> None:
    async def main() -> str | None:
        runner, url = await _serve(_charter_health)
        try:
            return await answers(url, deadline_s=5, retry_s=0.05)
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) is None


def test_another_service_or_nothing_is_named() -> None:
    async def main() -> tuple[str | None, str | None]:
        runner, url = await _serve(_something_else)
        try:
            other = await answers(url, deadline_s=0.3, retry_s=0.05)
        finally:
            await runner.cleanup()
        nothing = await answers(f"http://127.0.0.1:{free_port()}", deadline_s=0.3, retry_s=0.05)
        return other, nothing

    other, nothing = asyncio.run(main())
    assert other == "HTTP 200 without Charter's health answer"
    assert nothing is not None and "Connect" in nothing


@pytest.fixture
def short_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_url_check, "DEADLINE_S", 0.3)
    monkeypatch.setattr(public_url_check, "RETRY_S", 0.05)


def test_the_server_warns_about_a_public_url_nothing_answers_at(
    container: Container, short_probe: None, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    container.settings = container.settings.model_copy(update={"public_url": dead})
    public_url_check.wire(container)
    caplog.set_level(logging.WARNING, logger="charter.server")
    with TestClient(Dispatcher(container)) as client:  # the probe runs on the server's loop while it is up
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 10
        while not any("does not answer" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning about the public URL"
            time.sleep(0.05)
    messages = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    assert messages and dead in messages[0] and "CHARTER_PUBLIC_URL" in messages[0]
