"""The hooks a server process runs when it starts and stops (background loops, listeners, writers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Hook = Callable[[], Awaitable[None]]


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
