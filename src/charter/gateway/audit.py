"""The gateway's audit appender: the audit domain's group-commit writer, shared by everything in the process.

`await append(event)` returns only once the entry's batch is committed (durable): that is what lets the gateway
answer a call. Nothing is served without its audit entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from charter.audit.writer import GroupCommitWriter
from charter.bootstrap import Container
from charter.licenses import repository

Hook = Callable[[], Awaitable[None]]


def group_writer(container: Container) -> GroupCommitWriter:
    """The process's group-commit writer (created once per container, batch sizes from settings)."""
    writer = container.audit_writer
    if writer is None:
        writer = GroupCommitWriter(
            container.uow,
            container.audit,
            max_batch=container.settings.audit_batch_max,
            max_wait_ms=container.settings.audit_batch_wait_ms,
            fence=repository.fence_version,  # no allow is ordered after the entry of a license change it missed
        )
        container.audit_writer = writer
        container.audit_log.checkpointer.use_writer(writer)  # signed checkpoint rows ride in the writer's batches
    return writer


def closer(container: Container) -> Hook:
    """A shutdown hook that commits what is queued without blocking the event loop (checkpoints go back to
    transactions of their own first)."""

    async def close() -> None:
        writer = container.audit_writer
        if writer is None:
            return

        def stop() -> None:
            container.audit_log.checkpointer.use_writer(None)
            writer.close()

        await asyncio.to_thread(stop)

    return close
