"""Production signals of LLM deployments, counted from the license decisions the gateway already audits.

Every call the gateway (or the SDK / decisions API) decides on a license has one audit entry, `inference.allow`,
`inference.deny` or `inference.error`, with the license it concerned, the HTTP status and the reason. Per window of a
(digest, environment), monitoring counts those entries (no extra work on the gateway's hot path) into:

- `gateway.calls`: calls decided on a live license of the digest in the environment (the denominator). Calls refused
  because of the license's own state (`license_suspended`, `license_revoked`, `license_expired`,
  `license_not_yet_valid`, `license_status_unavailable`, `license_scope_mismatch`) or that no license concerned
  (`no_license`, a malformed request) are not counted: they say nothing about how the system behaves, and counting
  the refusals of a suspended license would suspend it again the moment it is reinstated.
- `gateway.refusal_rate`: the share of those calls the gateway refused (`inference.deny`: caller, purpose or tool
  out of scope, a tool condition failed, an approval refused, rate limited, an answer calling an unlicensed tool).
  A call held for approval (`approval_required`) is counted but not a refusal: the license works as designed.
- `gateway.tool_scope_refusal_rate`: the share of those calls refused for tool scope (`tool_not_in_scope`, requested
  or called by the model in its answer, and `tool_condition_failed`).
- `gateway.error_rate`: the share of the calls the license allowed (forwarded) that failed upstream: an
  `inference.error` entry (no answer, a redirect, an unreadable answer, a broken stream) or an answer with a 5xx
  status.

Upstream model refusals ("I can't help with that") are not visible generically and are not counted. A rate is `None`
(no verdict, the condition neither holds nor breaches) while its denominator is below the minimum number of calls
(`CHARTER_MONITOR_GATEWAY_MIN_CALLS`, default 20), so one refused call among three does not suspend a license.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

PREFIX = "gateway."
SOURCE = "gateway"  # the window source name (`sources`) and report key of these counts
CALLS, REFUSAL_RATE, TOOL_SCOPE_REFUSAL_RATE, ERROR_RATE = (
    "gateway.calls", "gateway.refusal_rate", "gateway.tool_scope_refusal_rate", "gateway.error_rate",
)  # fmt: skip
METRICS = (CALLS, REFUSAL_RATE, TOOL_SCOPE_REFUSAL_RATE, ERROR_RATE)
ACTIONS = ("inference.allow", "inference.deny", "inference.error")
DEFAULT_MIN_CALLS = 20
LICENSE_STATE_REASONS = frozenset(
    {
        "no_license",
        "license_suspended",
        "license_revoked",
        "license_expired",
        "license_not_yet_valid",
        "license_status_unavailable",
        "license_scope_mismatch",
    }
)
TOOL_SCOPE_REASONS = frozenset({"tool_not_in_scope", "tool_condition_failed"})
NOT_REFUSALS = frozenset({"approval_required"})


@dataclass(slots=True)
class Tally:
    """Counts of one window (of one license, or summed over the licenses of a digest and environment)."""

    calls: int = 0
    refused: int = 0
    tool_scope_refused: int = 0
    forwarded: int = 0
    errors: int = 0

    def add(self, other: Tally) -> None:
        self.calls += other.calls
        self.refused += other.refused
        self.tool_scope_refused += other.tool_scope_refused
        self.forwarded += other.forwarded
        self.errors += other.errors

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def classify(action: str, details: Mapping[str, Any]) -> Tally | None:
    """What one audit entry adds to its window, or None when it does not count (not an inference decision, no
    license, or refused for the license's own state)."""
    if action not in ACTIONS or not details.get("license_id"):
        return None
    reason = details.get("reason")
    if reason in LICENSE_STATE_REASONS:
        return None
    if action == "inference.deny":
        return Tally(
            calls=1,
            refused=int(reason not in NOT_REFUSALS),
            tool_scope_refused=int(reason in TOOL_SCOPE_REASONS),
        )
    status = details.get("status")
    failed = action == "inference.error" or (isinstance(status, int) and status >= 500)
    return Tally(calls=1, forwarded=1, errors=int(failed))


def total(tallies: Iterable[Tally]) -> Tally:
    out = Tally()
    for t in tallies:
        out.add(t)
    return out


def _rate(num: int, den: int, min_calls: int) -> float | None:
    return num / den if den and den >= min_calls else None


def values(tally: Tally, min_calls: int = DEFAULT_MIN_CALLS) -> dict[str, float | None]:
    """The window's `gateway.*` metric values; a rate is None below `min_calls` calls in its denominator."""
    return {
        CALLS: float(tally.calls),
        REFUSAL_RATE: _rate(tally.refused, tally.calls, min_calls),
        TOOL_SCOPE_REFUSAL_RATE: _rate(tally.tool_scope_refused, tally.calls, min_calls),
        ERROR_RATE: _rate(tally.errors, tally.forwarded, min_calls),
    }


def window_start(epoch_s: float, window_s: float) -> float:
    """Start (epoch seconds) of the window on the `window_s` grid that holds `epoch_s`."""
    return (epoch_s // window_s) * window_s
