"""The hooks a server process runs when it starts and stops (background loops, listeners, writers)."""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Hook = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)

# One stop hook may take this long (writers commit what is queued, loops finish a tick); past it the process says
# which hook hung, dumps every thread's stack to stderr and goes on stopping the others instead of hanging forever.
STOP_TIMEOUT_S = 60.0


@dataclass
class Lifespan:
    """Start hooks run in registration order; stop hooks in reverse order."""

    startup: list[Hook] = field(default_factory=list)
    shutdown: list[Hook] = field(default_factory=list)

    def add(self, start: Hook | None = None, stop: Hook | None = None) -> None:
        """Register a start hook and/or a stop hook."""
        if start is not None:
            self.startup.append(start)
        if stop is not None:
            self.shutdown.append(stop)

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> list[str]:
        """Run the stop hooks in reverse order, each bounded by `timeout`; returns the names of hooks that hung."""
        hung = []
        for hook in reversed(self.shutdown):
            try:
                await asyncio.wait_for(hook(), timeout)
            except TimeoutError:
                name = getattr(hook, "__qualname__", repr(hook))
                hung.append(name)
                log.error("stop hook %s did not finish in %.0fs; the threads' stacks follow on stderr", name, timeout)
                if sys.__stderr__ is not None:
                    faulthandler.dump_traceback(sys.__stderr__, all_threads=True)
            except Exception:
                log.exception("stop hook %s failed; stopping the others", getattr(hook, "__qualname__", hook))
        return hung
