"""The audit event every domain records for every state change and every inference decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Outcome = Literal["success", "denied", "error", "degraded"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened. `sensitive` values are never stored in clear: only as HMAC-SHA256 digests."""

    actor: str  # "user:alice", "app:loan-portal", "system:scheduler"
    action: str  # "license.suspend", "inference.allow", …
    resource: str  # "license:lic_…", "system:credit-scoring"
    outcome: Outcome = "success"
    details: Mapping[str, Any] = field(default_factory=dict)
    sensitive: Mapping[str, bytes | str] = field(default_factory=dict)
    governance: bool = True  # governance changes trigger an immediate checkpoint; inferences do not


class AuditWriter(Protocol):
    """Writes an event inside the caller's open transaction; returns its sequence number."""

    def append(self, session: Any, event: AuditEvent) -> int: ...

    def after_commit(self, event: AuditEvent) -> None: ...
