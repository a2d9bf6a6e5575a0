"""The gateway's audit appender: the audit domain's group-commit writer, or one transaction per entry without it.

Either way `await append(event)` returns only once the entry is committed (durable), which is what lets the
gateway answer a call: nothing is served without its audit entry.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from charter.bootstrap import Container
from charter.core.events import AuditEvent

Hook = Callable[[], Awaitable[None]]


class TransactionalAppender:
    """One write transaction per entry, in a worker thread: correct and durable, but ~10× slower than group commit."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.pending = 0

    def _write(self, event: AuditEvent) -> int:
        with self.container.uow() as uow:
            seq = uow.record(event)
            uow.commit()
        return seq

    async def append(self, event: AuditEvent) -> int:
        self.pending += 1
        try:
            return await asyncio.to_thread(self._write, event)
        finally:
            self.pending -= 1


async def _noop() -> None:
    return None


def _group_writer(container: Container) -> Any | None:
    """The audit domain's `GroupCommitWriter`, shared per container, when that module is installed."""
    existing = container.extras.get("audit_writer")
    if existing is not None:
        return existing
    try:
        module = importlib.import_module("charter.audit.writer")
    except ModuleNotFoundError as exc:
        if exc.name != "charter.audit.writer":
            raise
        return None
    factory = getattr(module, "from_container", None)
    writer = factory(container) if factory is not None else None
    if writer is not None:
        container.extras["audit_writer"] = writer
    return writer


def audit_writer(container: Container) -> tuple[Any, Callable[[], int], Hook, Hook]:
    """(appender, queue depth, start, stop) for this process."""
    writer = _group_writer(container)
    if writer is None:
        fallback = TransactionalAppender(container)
        return fallback, lambda: fallback.pending, _noop, _noop
    start: Hook = getattr(writer, "start", _noop)
    stop: Hook = getattr(writer, "close", None) or getattr(writer, "stop", None) or _noop
    depth: Callable[[], int] = getattr(writer, "depth", None) or (lambda: 0)
    return writer, depth, start, stop
