"""The HTTP listener of `charter serve` and `charter gateway`: uvicorn's httptools protocol, with deadlines.

uvicorn bounds the idle time between two requests of a connection (`timeout_keep_alive`), not the time a client
takes to send one: partial headers or a trickled body would hold a connection, its task and its buffers forever
(slowloris). This protocol adds, per connection:

- a head deadline, `CHARTER_HEADER_TIMEOUT_S` (10 s): from the connection (or the first byte of the next request)
  to the end of the request's headers; then 408 and close;
- a head size limit, `CHARTER_MAX_HEADER_BYTES` (64 KiB): 431 and close;
- a body deadline, `CHARTER_BODY_TIMEOUT_S` (60 s) plus one second per MiB the request declares (large uploads
  need at least 1 MiB/s): from the end of the headers to the end of the body; then 408 when no response has
  started, and close. The application sees the client as gone.

Each deadline is one timer per request phase (armed and cancelled by the parser callbacks), not a task.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from charter.core.errors import ErrorCode
from charter.settings import Settings

log = logging.getLogger("charter.server")
MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    header_s: float
    body_s: float
    max_header_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.header_timeout_s, settings.body_timeout_s, settings.max_header_bytes)


_LIMITS: list[Limits] = []


def limits() -> Limits:
    """This process's limits (worker processes read the same settings as the parent)."""
    if not _LIMITS:
        _LIMITS.append(Limits.of(Settings()))
    return _LIMITS[0]


def _problem(status: int, code: str, detail: str) -> bytes:
    body = orjson.dumps(
        {"type": f"https://charter.dev/problems/{code}", "title": code.replace("_", " "), "status": status,
         "code": code, "detail": detail}
    )  # fmt: skip
    head = (
        b"content-type: application/problem+json\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return STATUS_LINE[status] + head + body


class DeadlineProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with the head and body deadlines and the head size limit of the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits()
        self._timer: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_bytes = 0

    def _arm(self, seconds: float, fire: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._limits.header_s, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._timer is None:  # the first byte of the next request on a kept-alive connection
                self._arm(self._limits.header_s, self._head_expired)
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self._limits.max_header_bytes and not self.transport.is_closing():
            self._refuse(
                431, ErrorCode.HEADERS_TOO_LARGE, f"request headers exceed {self._limits.max_header_bytes} bytes"
            )

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        declared = 0
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
        self._arm(self._limits.body_s + declared / MIB, self._body_expired)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        super().on_message_complete()

    def _busy(self) -> bool:
        return self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete

    def _head_expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._busy():  # a pipelined head behind a response still being sent: let that response finish
            self._arm(self._limits.header_s, self._head_expired)
            return
        if self._head_bytes == 0 and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()  # nothing asked: no answer owed
            return
        self._refuse(408, ErrorCode.REQUEST_TIMEOUT, f"request headers not received within {self._limits.header_s:g} s")

    def _body_expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            self._refuse(408, ErrorCode.REQUEST_TIMEOUT, "request body not received in time (CHARTER_BODY_TIMEOUT_S)")
        else:
            self.transport.close()
        if cycle is not None:
            cycle.disconnected = True  # the application's receive() now says the client is gone
            cycle.message_event.set()

    def _refuse(self, status: int, code: str, detail: str) -> None:
        log.info("closing a connection: %s", detail)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(_problem(status, code, detail))
        self.transport.close()
