"""The world the gateway campaign attacks: a scripted model server that records what reaches it, a raw HTTP client
(httpx would normalise the paths we want to send), and a Charter product (`charter serve` + `charter gateway`)
with licensed deployments in front of that server.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.server import free_port


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    doc = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def _call(i: int, name: str, args: str = '{"q": 1}') -> dict[str, Any]:
    return {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}


class ModelServer:
    """Any path: records the request. `*/v1/chat/completions` answers as the last message's script says:

    `call:A,B` tool calls A and B (`stream: true`: as SSE deltas, name first then argument pieces);
    `legacy:A` the old `function_call`; `escaped:A` with the `tool_calls` key spelled in `\\u` escapes;
    `dup:A` `tool_calls` twice, [A] first and [] last; `pieces:AB|CD` a stream whose name arrives in two pieces;
    `gzip:A` gzip-encoded; `nocontenttype:A` SSE events sent as application/octet-stream; `afterdone:A` a
    stream that goes on after `[DONE]` with a call of send_email; `huge:N` / `hugestream:N` an answer / a stream
    of more than N bytes; `args:A:{JSON}` one call
    of A with those arguments (streamed: in two pieces).
    A path containing `/redirect` answers 302 to `elsewhere`. Anything else: an echo of method and raw path.
    """

    def __init__(self, elsewhere: str = "http://127.0.0.1:9") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.elsewhere = elsewhere
        self.seen: list[Seen] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def requests_with(self, probe: str) -> list[Seen]:
        return [s for s in self.seen if s.headers.get("x-probe") == probe]

    async def _any(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(request.method, request.raw_path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        if "/redirect" in request.raw_path:
            raise web.HTTPFound(self.elsewhere + "/stolen")
        if request.raw_path.endswith("/v1/chat/completions") and request.method == "POST":
            return await self._chat(request, json.loads(body))
        return web.json_response({"method": request.method, "raw_path": request.raw_path})

    async def _chat(self, request: web.Request, doc: dict[str, Any]) -> web.StreamResponse:
        script = str(doc.get("messages", [{}])[-1].get("content", ""))
        verb, _, arg = script.partition(":")
        names = [n for n in arg.split(",") if n] if verb in ("call", "legacy", "escaped", "dup", "gzip") else []
        if verb == "huge":  # a whole answer of that many bytes
            filler = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x" * int(arg)}}]}
            return web.json_response(filler)
        if verb == "hugestream":  # a stream that goes on past that many bytes
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for _ in range(int(arg) // 65536 + 2):
                await resp.write(_chunk({"content": "x" * 65536}))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp
        if doc.get("stream") or verb in ("pieces", "nocontenttype"):
            return await self._stream(request, verb, arg)
        message: dict[str, Any] = {"role": "assistant", "content": None if names else "approved"}
        if verb == "legacy":
            message["function_call"] = {"name": names[0], "arguments": "{}"}
        elif verb == "args":
            name, _, given = arg.partition(":")
            message = {"role": "assistant", "content": None, "tool_calls": [_call(0, name, given)]}
        elif names:
            message["tool_calls"] = [_call(i, n) for i, n in enumerate(names)]
        answer = {"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": message}]}
        raw = json.dumps(answer).encode()
        if verb == "escaped":
            raw = raw.replace(b'"tool_calls"', b'"\\u0074ool_calls"')
        if verb == "dup":  # a parser keeping the first copy sees the call, one keeping the last sees none
            evil = json.dumps([_call(0, names[0])]).encode()
            raw = (
                b'{"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": %s, "tool_calls": []}}]}'
                % evil
            )
        headers = {"Content-Type": "application/json"}
        if verb == "gzip":
            raw = gzip.compress(raw)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=raw, headers=headers)

    async def _stream(self, request: web.Request, verb: str, arg: str) -> web.StreamResponse:
        kind = "application/octet-stream" if verb == "nocontenttype" else "text/event-stream"
        resp = web.StreamResponse(headers={"Content-Type": kind})
        await resp.prepare(request)
        await resp.write(_chunk({"role": "assistant", "content": "thinking "}))
        if verb == "pieces":
            first, second = arg.split("|")
            await resp.write(
                _chunk({"tool_calls": [{"index": 0, "id": "c", "type": "function", "function": {"name": first}}]})
            )
            await resp.write(_chunk({"tool_calls": [{"index": 0, "function": {"name": second, "arguments": "{}"}}]}))
        elif verb == "args":  # one call, its arguments in two pieces
            name, _, given = arg.partition(":")
            head = {"index": 0, "id": "call_0", "type": "function", "function": {"name": name, "arguments": ""}}
            await resp.write(_chunk({"tool_calls": [head]}))
            for piece in (given[: len(given) // 2], given[len(given) // 2 :]):
                await resp.write(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            for i, name in enumerate(n for n in arg.split(",") if n):
                head = {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": ""}}
                await resp.write(_chunk({"tool_calls": [head]}))
                for piece in ('{"q"', ": 1}"):
                    await resp.write(_chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
        await resp.write(_chunk({}, "tool_calls"))
        await resp.write(b"data: [DONE]\n\n")
        if verb == "afterdone":  # the answer is over; a call after it reaches a client that reads on
            head = {"index": 9, "id": "late", "type": "function", "function": {"name": "send_email", "arguments": "{}"}}
            await resp.write(_chunk({"tool_calls": [head]}))
        await resp.write_eof()
        return resp

    def start(self) -> ModelServer:
        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._any)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="model-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("model server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float = 0.0
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        return self.doc.get("code") if isinstance(self.doc, dict) else None


def raw_request(
    url: str, method: str, target: bytes, headers: dict[str, str] | None = None, body: bytes = b"", timeout: float = 20
) -> Answer:
    """One request with the request target sent byte for byte (no normalisation, no re-encoding)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: gateway", b"Connection: close"]
        lines += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
        lines.append(b"Content-Length: " + str(len(body)).encode())
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
        answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, time.monotonic() - started)
    try:
        answer.doc = json.loads(data)
    except ValueError:
        pass
    return answer


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy (returning it) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes `sock` within `seconds` (reading whatever it sends first), and what it sent."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    got = b""
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, got
        if not data:
            return True, got
        got += data
    return False, got
