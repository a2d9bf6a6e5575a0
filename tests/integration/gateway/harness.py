"""A real uvicorn serving a `Gateway` on loopback, in a background thread, with its parts started by lifespan."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from charter.audit.writer import GroupCommitWriter
from charter.auth import service as auth_service
from charter.bootstrap import Container
from charter.gateway.handler import Gateway
from charter.gateway.index import LiveIndex
from charter.gateway.keys import KeyCache
from charter.gateway.metrics import Metrics
from charter.gateway.upstream import Upstream
from tests.support.server import free_port

Hook = Callable[[], Awaitable[None]]


class Lifespan:
    """Runs `startup`/`shutdown` hooks around an ASGI app (what the Dispatcher does in `charter serve`)."""

    def __init__(self, app: Any, startup: list[Hook], shutdown: list[Hook]) -> None:
        self.app = app
        self.startup = startup
        self.shutdown = shutdown

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for hook in self.startup:
                    await hook()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in reversed(self.shutdown):
                    await hook()
                await send({"type": "lifespan.shutdown.complete"})
                return


class ThreadServer:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def served_gateway(
    container: Container, index: LiveIndex, fence: Callable[[Any], int], *, approvals: Any = None
) -> Iterator[tuple[Gateway, str]]:
    """A `Gateway` over `index` (keys checked against `container`, durable audit through a group-commit writer
    fenced by `fence`) served by uvicorn on loopback; yields it and its URL."""

    def verify(key: str) -> Any:
        with container.uow(write=False) as uow:
            return auth_service.authenticate(uow, key)

    writer = GroupCommitWriter(container.uow, container.audit, fence=fence)
    up = Upstream()
    gw = Gateway(
        index=index,
        keys=KeyCache(verify),
        audit=writer,
        upstream=up,
        metrics=Metrics(),
        grace_s=900,
        max_body=1 << 20,
    )
    if approvals is not None:
        gw.approvals = approvals

    async def stop() -> None:
        await index.stop()
        await up.close()

    with writer, ThreadServer(Lifespan(gw, [up.start, index.start], [stop])) as server:
        yield gw, server.url
