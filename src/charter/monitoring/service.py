"""Monitoring use cases: reference profiles, windows of production data (uploaded, from an SDK or captured by the
gateway), condition checks that act on licenses, and the read models for the API, CLI, dashboard and reports.

Each writing use case authorizes first, records its audit entries in its transaction and commits once; a
condition that fires suspends or revokes the license in that same transaction (see `checks`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from charter.auth.authorize import authorize
from charter.auth.model import SYSTEM_ACTOR, Actor, Permission
from charter.catalog import service as catalog
from charter.catalog.schemas import ModelVersionRead
from charter.core.canonical import canonical_json
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput
from charter.core.events import AuditEvent
from charter.core.hashing import sha256_hex
from charter.core.ids import new_id
from charter.licenses import service as licenses
from charter.monitoring import checks
from charter.monitoring import repository as repo
from charter.monitoring.profile import ReferenceProfile
from charter.monitoring.queries import (
    breaches_of,
    list_profiles,
    list_windows,
    metric_series,
    profile_read,
    recent_breaches,
    series,
    status,
    summary,
    window_read,
)
from charter.monitoring.schemas import (
    CaptureTarget,
    CaptureUpload,
    ProfileRead,
    ProfileUpload,
    WindowRead,
    WindowUpload,
)
from charter.monitoring.sketch import WindowSketch
from charter.monitoring.sketch_schema import validate_sketch_doc
from charter.monitoring.tables import ProfileRow, WindowRow
from charter.monitoring.windows import load_profile, record
from charter.storage.uow import UnitOfWork

__all__ = [
    "breaches_of",
    "check_latest",
    "get_reference",
    "list_profiles",
    "list_windows",
    "metric_series",
    "record_capture",
    "recent_breaches",
    "series",
    "set_reference",
    "status",
    "submit_window",
    "summary",
]


# Every window sketch is as large as the profile's bins: bound what one upload can make every later window cost.
MAX_FEATURES = 1000
MAX_GRID = 10_000
MAX_SENSITIVE = 20
DEFAULT_WINDOW_S = 3600.0  # Settings.monitor_window_s's default; the API passes the configured one


def _version(uow: UnitOfWork, actor: Actor, ref: str, permission: Permission) -> ModelVersionRead:
    model_version = catalog.get_model_version(uow, ref)
    authorize(actor, permission, catalog.system_resource(uow, model_version.system))
    return model_version


def set_reference(uow: UnitOfWork, actor: Actor, ref: str, data: ProfileUpload) -> ProfileRead:
    """Store the reference profile of a model version (per digest); replacing the profile of a production-licensed
    system needs a senior engineer, since the reference decides what counts as drift."""
    model_version = _version(uow, actor, ref, Permission.MONITOR_WRITE)
    profile = ReferenceProfile.from_dict(data.profile)
    spec = profile.spec
    if not (spec.numeric or spec.categorical or spec.prediction):
        raise InvalidInput("the reference profile has no feature or prediction column to monitor", field="profile")
    features = len(spec.numeric) + len(spec.categorical)
    if features > MAX_FEATURES or spec.grid > MAX_GRID or len(spec.sensitive) > MAX_SENSITIVE:
        raise InvalidInput(
            f"the reference profile is too large to monitor: {features} features (at most {MAX_FEATURES}), "
            f"grid {spec.grid} (at most {MAX_GRID}), {len(spec.sensitive)} sensitive attributes (at most "
            f"{MAX_SENSITIVE}); profile fewer columns",
            code=ErrorCode.PROFILE_TOO_LARGE,
            field="profile",
        )
    if profile.model_version not in (None, model_version.digest, f"{model_version.system}@{model_version.version}"):
        raise InvalidInput(
            f"the profile was built for {profile.model_version}, "
            f"not {model_version.system}@{model_version.version} ({model_version.digest})",
            code=ErrorCode.PROFILE_MODEL_MISMATCH,
            field="profile",
        )
    row = repo.profile_row(uow, model_version.digest)
    resource = catalog.system_resource(uow, model_version.system)
    if row is not None and resource.production:
        authorize(actor, Permission.CATALOG_WRITE_PRODUCTION, resource)
    now = utcnow()
    replaced = row is not None
    if row is None:
        row = ProfileRow(id=new_id("prf"), digest=model_version.digest, created_at=now)
        uow.session.add(row)
    previous = None if not replaced else row.fingerprint
    row.system = model_version.system
    row.model_ref = f"{model_version.system}@{model_version.version}"
    row.fingerprint = profile.fingerprint
    row.spec = spec.to_dict()
    row.rows = profile.rows
    row.profile = profile.to_dict()
    row.source = {**data.source.model_dump(exclude_none=True), "evaluation": data.evaluation}
    row.capture = data.capture.model_dump()
    row.created_by = actor.ref
    row.updated_at = now
    uow.session.flush()
    details = {
        "model": row.model_ref,
        "digest": model_version.digest,
        "fingerprint": profile.fingerprint,
        "replaced": previous,
        "rows": profile.rows,
        "spec": row.spec,
        "source": row.source,
        "capture": row.capture,
    }
    uow.record(AuditEvent(actor.ref, "monitoring.reference", f"model:{row.model_ref}", details=details))
    out = profile_read(row, full=False)
    uow.commit()
    return out


def get_reference(uow: UnitOfWork, actor: Actor, ref: str, *, full: bool = True) -> ProfileRead:
    """The reference profile of a model version (with the profile document when `full`)."""
    model_version = _version(uow, actor, ref, Permission.MONITOR_READ)
    return profile_read(repo.require_profile(uow, model_version.digest, ref), full=full)


def _checked(uow: UnitOfWork, window: WindowRow) -> WindowRead:
    rows = checks.check_window(uow, window)
    out = window_read(uow, window, rows, history=True)
    uow.commit()
    return out


def _sketch(doc: dict[str, Any], profile_row: ProfileRow) -> WindowSketch:
    """A sketch from outside: same profile, then the schema (counts, bins, rows), then loaded."""
    profile = load_profile(profile_row)
    if doc.get("fingerprint") == profile.fingerprint:
        validate_sketch_doc(doc, profile)
    return WindowSketch.from_dict(doc, profile)


def submit_window(
    uow: UnitOfWork, actor: Actor, ref: str, data: WindowUpload, *, window_s: float = DEFAULT_WINDOW_S
) -> WindowRead:
    """Record a window sketched by the client (an uploaded file, or an SDK's sketch); check the conditions on it."""
    model_version = _version(uow, actor, ref, Permission.MONITOR_WRITE)
    profile_row = repo.require_profile(uow, model_version.digest, ref)
    sketch = _sketch(data.sketch, profile_row)
    if data.kind == "sdk":
        source, replace = f"sdk:{actor.ref}", False
    elif data.source is not None:
        source, replace = f"upload:{data.source.sha256.removeprefix('sha256:')}", True
    else:
        source, replace = f"upload:{sha256_hex(canonical_json(data.sketch))}", True
    info: dict[str, Any] = {"kind": data.kind, "by": actor.ref}
    if data.source is not None:
        info["file"] = data.source.model_dump(exclude_none=True)
    info["env"] = data.env
    window = record(
        uow, actor.ref, profile_row, data.env, data.start, data.end, source, sketch, replace=replace, info=info,
        window_s=window_s,
    )  # fmt: skip
    return _checked(uow, window)


def sdk_target(uow: UnitOfWork, deployment: str, model: str, digest: str, window_s: float) -> CaptureTarget:
    """What an SDK sketches calls of `deployment` (serving `model`) against, the caller having been authorized on
    it: `profile_not_found` until a reference profile is uploaded, `capture_disabled` when its capture is off."""
    row = repo.require_profile(uow, digest, model)
    if not row.capture.get("enabled", True):
        raise Conflict(
            f"capture is switched off for {model}'s reference profile; upload it again with capture enabled",
            code=ErrorCode.CAPTURE_DISABLED,
        )
    profile = profile_read(row, full=True)
    return CaptureTarget(deployment=deployment, model=model, digest=digest, window_s=window_s, profile=profile)


def record_sdk_capture(
    uow: UnitOfWork,
    caller: Actor,
    model: str,
    digest: str,
    env: str,
    data: CaptureUpload,
    *,
    window_s: float = DEFAULT_WINDOW_S,
) -> WindowRead:
    """Merge an SDK's counts into the caller's part of their window of the deployment's environment `env`
    (authorized on that deployment of `model`, whose live license names the caller) and check the license conditions
    of that environment on the window."""
    profile_row = repo.require_profile(uow, digest, model)
    sketch = _sketch(data.sketch, profile_row)
    info: dict[str, Any] = {"kind": "sdk", "by": caller.ref, "env": env}
    source = f"sdk:{caller.ref}"
    window = record(
        uow, caller.ref, profile_row, env, data.start, data.end, source, sketch, replace=False, info=info,
        window_s=window_s,
    )  # fmt: skip
    return _checked(uow, window)


def record_capture(
    uow: UnitOfWork, digest: str, env: str, start: datetime, end: datetime, sketch: WindowSketch
) -> WindowRead:
    """Merge a gateway flush into the capture part of its window of the deployment's environment (SYSTEM_ACTOR:
    internal, no caller)."""
    profile_row = repo.profile_row(uow, digest)
    if profile_row is None or profile_row.fingerprint != sketch.fingerprint:
        raise InvalidInput(
            f"capture of {digest} was sketched against a reference profile that is no longer current",
            code=ErrorCode.PROFILE_MISMATCH,
        )
    authorize(SYSTEM_ACTOR, Permission.MONITOR_WRITE, catalog.system_resource(uow, profile_row.system))
    window = record(uow, SYSTEM_ACTOR.ref, profile_row, env, start, end, "capture", sketch, replace=False)
    return _checked(uow, window)


def check_latest(uow: UnitOfWork) -> int:
    """The scheduled check: for every live license with conditions, check the latest window of its digest and
    environment when it
    has not been checked for that license yet (activated since, or an action that failed). Returns windows checked."""
    keys = {(e.digest, e.env) for e in licenses.active_index(uow) if e.conditions}
    done = 0
    for digest, env in sorted(keys):
        window = repo.latest_window(uow, digest, env)
        if window is None:
            continue
        pending = [
            w.license_id
            for w in checks.watched(uow, digest, env)
            if not repo.checked(uow, window.id, w.license_id)
            or any((c.outcome or "").startswith("failed") for c in repo.checks_of(uow, window.id, w.license_id))
        ]
        if pending:
            checks.check_window(uow, window)
            uow.commit()
            done += 1
    return done
