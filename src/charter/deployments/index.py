"""The in-memory index a gateway keeps: deployments by name, licenses by (model digest, environment)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from charter.deployments.model import Deployment, Grant, tool_rules


def _epoch(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _caller(ref: str) -> str:
    return ref if ":" in ref else f"app:{ref}"


def _strings(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(str(v) for v in value)


def _get(entry: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(entry, Mapping):
            if name in entry:
                return entry[name]
        elif hasattr(entry, name):
            return getattr(entry, name)
    return default


def _rate(conditions: Any) -> tuple[float | None, int | None]:
    """A license may carry its own rate limit among its conditions (`{"rate_limit": {"rps": 50, "burst": 100}}`)."""
    items = [conditions] if isinstance(conditions, Mapping) else list(conditions or ())
    for item in items:
        rate = item.get("rate_limit") if isinstance(item, Mapping) else None
        if isinstance(rate, Mapping) and rate.get("rps"):
            burst = rate.get("burst")
            return float(rate["rps"]), int(burst) if burst else None
    return None, None


def grant_from(entry: Any) -> Grant:
    """Project one `licenses.service.active_index` entry (object or mapping) onto a `Grant`."""
    rps, burst = _rate(_get(entry, "conditions"))
    state = _get(entry, "state", "status", default="active")
    return Grant(
        license_id=str(_get(entry, "license_id", "id")),
        digest=str(_get(entry, "digest", "model_digest")),
        env=str(_get(entry, "env", "environment")),
        state=str(getattr(state, "value", state)),
        purposes=_strings(_get(entry, "purposes")),
        callers=frozenset(_caller(c) for c in _strings(_get(entry, "callers"))),
        tools=_strings(_get(entry, "tools")),
        nbf=_epoch(_get(entry, "nbf", "not_before"), 0.0),
        exp=_epoch(_get(entry, "exp", "expires_at"), float("inf")),
        risk_tier=str(_get(entry, "risk_tier", default="minimal") or "minimal"),
        version=int(_get(entry, "version", default=0) or 0),
        rate_limit_rps=rps,
        rate_burst=burst,
        tool_rules=tool_rules(_get(entry, "tool_rules")),
    )


@dataclass(frozen=True)
class Snapshot:
    """One consistent view: license state version, grants by (digest, env), deployments by name."""

    version: int = -1
    grants: Mapping[tuple[str, str], tuple[Grant, ...]] = field(default_factory=dict)
    deployments: Mapping[str, Deployment] = field(default_factory=dict)

    def grants_for(self, deployment: Deployment) -> tuple[Grant, ...]:
        return self.grants.get((deployment.digest, deployment.env), ())


def build_grants(entries: Iterable[Any]) -> dict[tuple[str, str], tuple[Grant, ...]]:
    """Group index entries by (digest, env)."""
    out: dict[tuple[str, str], list[Grant]] = {}
    for entry in entries:
        grant = grant_from(entry)
        out.setdefault((grant.digest, grant.env), []).append(grant)
    return {k: tuple(v) for k, v in out.items()}


def with_tombstones(
    new: Mapping[tuple[str, str], tuple[Grant, ...]],
    old: Mapping[tuple[str, str], tuple[Grant, ...]],
    now: float,
) -> dict[tuple[str, str], tuple[Grant, ...]]:
    """Keep licenses that left the index since the last refresh as revoked (or expired) entries.

    The index lists active and suspended licenses only; remembering the ones that just left lets a gateway
    refuse with `license_revoked` / `license_expired` instead of a bare `no_license`.
    """
    out = {k: tuple(v) for k, v in new.items()}
    present = {g.license_id for grants in new.values() for g in grants}
    for key, grants in old.items():
        for grant in grants:
            if grant.license_id in present:
                continue
            if grant.state in ("revoked", "expired"):
                gone = grant
            else:
                gone = replace(grant, state="expired" if now >= grant.exp else "revoked")
            out[key] = (*out.get(key, ()), gone)
    return out
