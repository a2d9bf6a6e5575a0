"""The pooled aiohttp client to model servers, and passing their responses through (buffered or SSE)."""

from __future__ import annotations

import aiohttp
from starlette.types import Send

# Not passed back to the caller: hop-by-hop headers and those the server sets itself.
_DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authenticate",
        b"content-length",
        b"server",
        b"date",
    }
)
DONE = b"data: [DONE]"
UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError)


class Upstream:
    """One `aiohttp.ClientSession` per process with keep-alive pooling; created on startup inside the loop."""

    def __init__(
        self, *, connections: int = 1000, connect_timeout_s: float = 5.0, read_timeout_s: float = 300.0
    ) -> None:
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("gateway upstream session used before startup")
        return self._session

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._connections, limit_per_host=0, keepalive_timeout=30, ttl_dns_cache=60
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # a proxy must not keep one caller's cookies for the next
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def response_headers(resp: aiohttp.ClientResponse, decision_id: bytes) -> list[tuple[bytes, bytes]]:
    """Upstream headers minus hop-by-hop ones, plus `Charter-Decision-Id`."""
    out = [(k.lower(), v) for k, v in resp.raw_headers if k.lower() not in _DROP_RESPONSE]
    out.append((b"charter-decision-id", decision_id))
    return out


def is_stream(resp: aiohttp.ClientResponse) -> bool:
    return resp.content_type == "text/event-stream"


class StreamResult:
    """What passed through: every byte (for the audit digest), and whether the caller went away."""

    __slots__ = ("body", "client_gone", "held", "upstream_error")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.held = b""
        self.client_gone = False
        self.upstream_error: str | None = None


_TAIL = len(DONE) - 1


def split_done(tail: bytes, chunk: bytes) -> tuple[bytes, bytes]:
    """(bytes to send now, bytes to hold from `data: [DONE]` on), also when the marker straddles two chunks.

    `tail` is the end of what was already sent. A marker split across chunks has only its first bytes out, and
    the client cannot act on an event before its terminating blank line, which is held.
    """
    window = tail + chunk
    cut = window.find(DONE)
    if cut < 0:
        return chunk, b""
    at = max(0, cut - len(tail))
    return chunk[:at], chunk[at:]


async def pass_stream(
    resp: aiohttp.ClientResponse, send: Send, start_headers: list[tuple[bytes, bytes]]
) -> StreamResult:
    """Send chunks as they arrive, holding back `data: [DONE]` (and the end of the stream) for the caller to release.

    The caller audits the call, then releases `result.held` with `more_body=False`: the client never sees the
    end of a stream whose audit entry is not durable.
    """
    out = StreamResult()
    await send({"type": "http.response.start", "status": resp.status, "headers": start_headers})
    tail = b""
    try:
        async for chunk in resp.content.iter_any():
            out.body.append(chunk)
            if out.held:
                out.held += chunk
                continue
            chunk, out.held = split_done(tail, chunk)
            tail = (tail + chunk)[-_TAIL:]
            if chunk and not out.client_gone:
                try:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except OSError:
                    out.client_gone = True
                    break
    except UPSTREAM_ERRORS as exc:
        out.upstream_error = type(exc).__name__
    return out
