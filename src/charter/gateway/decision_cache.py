"""Decisions of the external-authorization endpoints, cached per (caller, deployment, purpose, tools).

Revocation-aware: every entry belongs to one license state version (the live index's), and the whole cache is
dropped the moment the index loads another version, so a suspension or a revocation is never served from the cache
(no TTL is trusted for that). An entry also ends when its license does (`exp`). Degraded decisions (license
state unreadable) and refusals are never cached (refusing is as cheap as looking up). Only the check is saved:
each call still gets its own audit entry.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from charter.deployments.model import Verdict

Key = tuple[str, str, str | None, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Cached:
    verdict: Verdict
    until: float  # epoch seconds: the license's end (or +inf)


class DecisionCache:
    """A bounded LRU of verdicts for one license state version."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._version = -1
        self._entries: OrderedDict[Key, Cached] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Key, version: int, now: float) -> Verdict | None:
        if version != self._version:
            self._entries.clear()
            self._version = version
            self.misses += 1
            return None
        hit = self._entries.get(key)
        if hit is None or now >= hit.until:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return hit.verdict

    def put(self, key: Key, version: int, verdict: Verdict) -> None:
        """Remember an allow reached on `version`; degraded ones (no known state) and refusals are not remembered."""
        if not verdict.allowed or verdict.degraded or version != self._version:
            return
        until = verdict.grant.exp if verdict.grant is not None else float("inf")
        self._entries[key] = Cached(verdict, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
