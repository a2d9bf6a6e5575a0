"""The pooled aiohttp client to model servers, and passing their responses through (buffered or SSE).

Egress rules (`charter.core.egress`): redirects are never followed; a deployment whose upstream URL is refused is
not called (checked once per base URL); and the resolver drops a connection whose host name resolves to a
link-local or metadata address (or, with `CHARTER_UPSTREAM_ALLOW`, outside the allowed networks) at connect time,
so a DNS answer that changes after the deployment was added is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from starlette.types import Send

from charter.core import egress

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
MAX_ANSWER_BYTES = 64 << 20  # CHARTER_MAX_ANSWER_BYTES: the largest answer the gateway holds in memory


class AnswerTooLarge(Exception):
    """The upstream's answer is larger than the gateway reads (`Upstream.max_answer`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answered more than {limit} bytes (CHARTER_MAX_ANSWER_BYTES)")
        self.limit = limit


class UpstreamRefused(OSError):
    """The upstream's host resolved to an address Charter must not connect to."""


class CheckedResolver(AbstractResolver):
    """The default resolver, refusing answers that contain a forbidden (or, with an allowlist, unlisted) address."""

    def __init__(self, allow: egress.Allow) -> None:
        self._inner = DefaultResolver()
        self._allow = allow

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        name = host.lower().rstrip(".")
        for result in results:
            why = egress.address_refusal(ipaddress.ip_address(result["host"]), self._allow, host=name)
            if why is not None:
                raise UpstreamRefused(why)
        return results

    async def close(self) -> None:
        await self._inner.close()


def refused_by_resolver(exc: BaseException) -> str | None:
    """The resolver's refusal behind an aiohttp connection error, if that is what it is."""
    inner: Any = getattr(exc, "os_error", None) or exc.__cause__
    return str(inner) if isinstance(inner, UpstreamRefused) else None


class Upstream:
    """One `aiohttp.ClientSession` per process with keep-alive pooling; created on startup inside the loop."""

    def __init__(
        self,
        *,
        connections: int = 1000,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 300.0,
        allow: egress.Allow | None = None,
        max_answer: int = MAX_ANSWER_BYTES,
    ) -> None:
        self._connections = connections
        self.max_answer = max_answer
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.allow = allow or egress.Allow()
        self._verdicts: dict[str, str | None] = {}

    def refusal(self, base: str) -> str | None:
        """Why requests to this upstream base URL are refused (static rules, cached per base), or None."""
        try:
            return self._verdicts[base]
        except KeyError:
            why = self._verdicts[base] = egress.url_refusal(base, self.allow)
            if len(self._verdicts) > 10_000:
                self._verdicts.clear()
            return why

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("gateway upstream session used before startup")
        return self._session

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._connections,
            limit_per_host=0,
            keepalive_timeout=30,
            ttl_dns_cache=60,
            resolver=CheckedResolver(self.allow),
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

    async def read(self, resp: aiohttp.ClientResponse) -> bytes:
        """A whole (non-streamed) answer, refused past `max_answer` bytes: announced, or as it arrives."""
        declared = resp.content_length
        if declared is not None:
            if declared > self.max_answer:
                raise AnswerTooLarge(self.max_answer)
            return await resp.read()  # aiohttp reads no more than the declared length
        parts: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > self.max_answer:
                raise AnswerTooLarge(self.max_answer)
            parts.append(chunk)
        return b"".join(parts)


def response_headers(resp: aiohttp.ClientResponse, decision_id: bytes) -> list[tuple[bytes, bytes]]:
    """Upstream headers minus hop-by-hop ones, plus `Charter-Decision-Id`."""
    out = [(k.lower(), v) for k, v in resp.raw_headers if k.lower() not in _DROP_RESPONSE]
    out.append((b"charter-decision-id", decision_id))
    return out


def is_stream(resp: aiohttp.ClientResponse) -> bool:
    return resp.content_type == "text/event-stream"


class StreamResult:
    """What passed through: every byte (for the audit digest), and whether the caller went away."""

    __slots__ = ("body", "client_gone", "held", "size", "upstream_error")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.size = 0
        self.held = b""
        self.client_gone = False
        self.upstream_error: str | None = None

    def over(self, chunk: bytes, limit: int) -> bool:
        """Keep `chunk`, unless the stream grows past `limit` bytes: then it is an upstream error (the stream is
        ended without its last part, as for an upstream that failed mid-stream)."""
        self.size += len(chunk)
        if self.size > limit:
            self.upstream_error = f"answer over {limit} bytes (CHARTER_MAX_ANSWER_BYTES)"
            return True
        self.body.append(chunk)
        return False


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
    resp: aiohttp.ClientResponse, send: Send, start_headers: list[tuple[bytes, bytes]], limit: int = MAX_ANSWER_BYTES
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
            if out.over(chunk, limit):
                break
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


class _Events(Protocol):
    """What `pass_events` needs of `toolcheck.EventStream`."""

    held: bytes
    refusal: Any
    done: bool

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> None: ...


async def pass_events(
    resp: aiohttp.ClientResponse,
    send: Send,
    start_headers: list[tuple[bytes, bytes]],
    events: _Events,
    limit: int = MAX_ANSWER_BYTES,
) -> StreamResult:
    """`pass_stream` for an OpenAI deployment: whole SSE events only, each checked by `events` (tool calls).

    Stops reading at the first refused event (nothing of it is sent); `result.held` is `data: [DONE]` and what
    follows, for the caller to release after the audit entry.
    """
    out = StreamResult()
    await send({"type": "http.response.start", "status": resp.status, "headers": start_headers})
    try:
        async for chunk in resp.content.iter_any():
            if out.over(chunk, limit):
                return out
            ready = events.feed(chunk)
            if ready and not out.client_gone:
                try:
                    await send({"type": "http.response.body", "body": ready, "more_body": True})
                except OSError:
                    out.client_gone = True
                    break
            if events.refusal is not None:
                return out
            if events.done:
                break  # the answer is complete: what an upstream sends after `[DONE]` is not read
    except UPSTREAM_ERRORS as exc:
        out.upstream_error = type(exc).__name__
    events.finish()
    out.held = events.held
    return out
