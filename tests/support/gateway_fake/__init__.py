"""An OpenAI-shaped model server on loopback (aiohttp, in a background thread) for gateway and SDK tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from aiohttp import web

from tests.support.server import free_port


class FakeUpstream:
    """`/v1/chat/completions` (JSON or SSE), `/v1/completions`, `/v1/embeddings`, and `/anything/...` echo.

    Remembers the headers of every request so tests can check what the gateway forwarded.
    """

    def __init__(self, *, stream_chunks: int = 5, chunk_delay_s: float = 0.01) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stream_chunks = stream_chunks
        self.chunk_delay_s = chunk_delay_s
        self.seen_headers: list[dict[str, str]] = []
        self.calls = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completion)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_route("*", "/anything/{tail:.*}", self._echo)
        return app

    def _seen(self, request: web.Request) -> None:
        self.calls += 1
        self.seen_headers.append({k.lower(): v for k, v in request.headers.items()})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        body = await request.json()
        text = "approved" if body.get("messages") else "ok"
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
            await resp.prepare(request)
            for i in range(self.stream_chunks):
                chunk = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}],
                }
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await asyncio.sleep(self.chunk_delay_s)
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
        )

    async def _completion(self, request: web.Request) -> web.Response:
        self._seen(request)
        body = await request.json()
        return web.json_response(
            {"id": "cmpl-1", "object": "text_completion", "model": body["model"], "choices": [{"text": "ok"}]}
        )

    async def _embeddings(self, request: web.Request) -> web.Response:
        self._seen(request)
        body = await request.json()
        return web.json_response(
            {
                "object": "list",
                "model": body["model"],
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
            }
        )

    async def _echo(self, request: web.Request) -> web.Response:
        self._seen(request)
        data: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "body": (await request.read()).decode(),
        }
        return web.json_response(data, status=200)

    def start(self) -> FakeUpstream:
        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            runner = web.AppRunner(self._app(), access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            self._runner = runner
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
