"""The floor a Python gateway stands on: uvicorn (uvloop, httptools) + one pooled aiohttp session, forwarding each
POST to the upstream with no checks and no audit. The issue's reference figure (7.1k req/s on one core) is this.

Run: python bench/_bare_proxy.py PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import uvicorn

UPSTREAM = sys.argv[2].rstrip("/")
_session: list[aiohttp.ClientSession] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _session.append(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000), auto_decompress=False)
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await _session[0].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {"content-type": "application/json"}
    async with _session[0].request(scope["method"], UPSTREAM + scope["path"], data=body, headers=headers) as resp:
        payload = await resp.read()
        status = resp.status
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
