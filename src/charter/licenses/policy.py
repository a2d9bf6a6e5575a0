"""The licensing rules licenses follow: sign-offs per tier, validity caps, re-audit and reinstatement (from
policies' licensing document), plus the few scheduling defaults the document does not (yet) carry."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from charter.policies.licensing import LicensingPolicy, builtin_licensing, load_licensing_file
from charter.storage.uow import UnitOfWork

EXPIRY_WARNING = timedelta(days=14)  # warn (webhook) this long before a license expires
NEW_VERSION_REAUDIT = timedelta(days=30)  # a new model version of a licensed system is re-audited within this
REAUDIT_OVERDUE_SUSPENDS = True  # an overdue re-audit suspends the system's active licenses
DEFAULT_REAUDIT_DAYS = 182


_override: Path | None = None  # Settings.licensing (CHARTER_LICENSING): a licensing document replacing the built-in one


def configure(path: Path | None) -> None:
    """Use the licensing document at `path` instead of the built-in one (the composition root sets it)."""
    global _override
    _override = path


@lru_cache(maxsize=4)
def _from_file(path: str, mtime_ns: int) -> LicensingPolicy:
    del mtime_ns  # part of the cache key only: a changed file is read again
    return load_licensing_file(Path(path))


def licensing(uow: UnitOfWork) -> LicensingPolicy:
    """The licensing document in force: `Settings.licensing` if set (e.g. to require FRIA and post-market plans via
    `obligation_documents`), else the built-in one (until policies stores custom licensing documents)."""
    del uow
    if _override is not None:
        return _from_file(str(_override), _override.stat().st_mtime_ns)
    return builtin_licensing()


def reaudit_interval(policy: LicensingPolicy) -> timedelta:
    return timedelta(days=policy.reaudit_interval_days or DEFAULT_REAUDIT_DAYS)


def suspension_category(category: str | None, evidence: dict[str, object] | None) -> str | None:
    """What a suspension is about (picks the reinstatement sign-offs): the explicit category, else the family of
    the evidence's metric (`fairness.dp_diff` → fairness), else None (the policy's default)."""
    if category:
        return category
    metric = (evidence or {}).get("metric")
    if isinstance(metric, str) and "." in metric:
        return metric.split(".", 1)[0]
    return None
