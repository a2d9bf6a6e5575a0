"""The reference profile's columns, for checking a condition's bracket key when a license is requested.

Monitoring owns the `monitor_profiles` table and sits above licenses, so this reads the one JSON column it needs by
name instead of importing monitoring: `spec.numeric` + `spec.categorical` are the features drift metrics are keyed
by, `spec.sensitive` the attributes fairness metrics are keyed by.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from charter.licenses.conditions import ProfileColumns
from charter.storage.uow import UnitOfWork


def profile_columns(uow: UnitOfWork, digest: str) -> ProfileColumns | None:
    """The columns of the reference profile uploaded for `digest`; None when there is none yet."""
    raw = uow.session.execute(text("SELECT spec FROM monitor_profiles WHERE digest = :d"), {"d": digest}).scalar()
    if raw is None:
        return None
    spec: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else dict(raw)
    features = (*spec.get("numeric", ()), *spec.get("categorical", ()))
    return ProfileColumns(features=tuple(map(str, features)), attributes=tuple(map(str, spec.get("sensitive", ()))))
