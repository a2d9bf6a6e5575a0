"""What reports need from monitoring, as a protocol: reports sit beside monitoring and may not import it.

The entrypoint (API, CLI server side) passes a `MonitoringSource` when the monitoring service is installed; it reads
monitoring's own tables and answers in these plain shapes. Without one, the report marks monitoring data MISSING.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from charter.storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """One window of production data for a model version and the metrics computed on it."""

    model: str  # SYSTEM@VERSION
    start: datetime
    end: datetime
    rows: int | None = None
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    breaches: Sequence[str] = ()  # the license conditions this window breached, as written

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "metrics": dict(self.metrics),
            "breaches": list(self.breaches),
        }


@dataclass(frozen=True, slots=True)
class MonitoringSummary:
    """Reference profiles (model refs that have one) and the newest windows, newest first."""

    profiles: Sequence[str] = ()
    windows: Sequence[WindowSummary] = ()

    @property
    def breaches(self) -> list[str]:
        """Every breached condition, once, newest window first."""
        return list(dict.fromkeys(f"{w.model}: {b}" for w in self.windows for b in w.breaches))

    def to_dict(self) -> dict[str, Any]:
        return {"profiles": list(self.profiles), "windows": [w.to_dict() for w in self.windows]}


class MonitoringSource(Protocol):
    """Monitoring data of one system, read in the caller's unit of work; None when it has none."""

    def __call__(self, uow: UnitOfWork, system: str) -> MonitoringSummary | None: ...
