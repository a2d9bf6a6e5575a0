"""Hostile-input campaign against monitoring ingest, through the real API (in-process HTTP).

The world: `credit@1.0` with a reference profile, a production license (caller app:loan-portal, condition
`drift.psi_max < 0.25 => suspend`) and its deployment `credit-prod`, plus a staging license for app:stager and its
deployment `credit-staging`. The licensed app has already posted a drifted window that breached the condition and
suspended the license. Each row of `ATTACKS` is one request an app (or an uploader) sends to bend that outcome —
negative counts to cancel the breach, a window dated ahead to hide it, fractional or overflowing counts, bins of
another size, another environment — with the refusal expected. After every attack the breach must still be there:
in the window's counts, in `/breaches` and in the status, and nothing answers 5xx. To add an attack, add a row.

The world is built once per module and backend: every attack is refused without a change (that is what each test
asserts), so the next attack meets the same world; the one accepted row (staging dilutes through staging) is last.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from charter import bootstrap
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.monitoring import service as monitoring
from charter.monitoring.schemas import ProfileUpload
from charter.server import Dispatcher
from tests.conftest import bearer
from tests.integration.monitoring.support import approve, monitored, profile_of, sketch_doc
from tests.support.builders import app_key, user
from tests.support.db import BACKENDS, Templates, admin_key, settings_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONDITION = "drift.psi_max < 0.25 => suspend"
API = "/api/v1"


@dataclass
class World:
    container: Container
    admin_key: str
    client: TestClient
    model: str
    license_id: str
    staging_id: str
    keys: dict[str, str]
    drifted: dict[str, Any]  # the sketch that caused the breach
    window_rows: int


def _span(day: int = 0) -> dict[str, str]:
    return {"start": (T0 + timedelta(days=day)).isoformat(), "end": (T0 + timedelta(days=day + 1)).isoformat()}


def _state(c: Container, license_id: str) -> str:
    with c.uow(write=False) as uow:
        return str(licenses.get(uow, SYSTEM_ACTOR, license_id).state)


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    backend = str(request.param)
    template = templates.get(backend)
    home = tmp_path_factory.mktemp(f"hostile-monitoring-{backend}") / "home"
    with settings_for(backend, home, template=template) as settings:
        c = bootstrap.build(settings)
        admin = admin_key(template.init)
        try:
            with TestClient(Dispatcher(c), headers=bearer(admin)) as client:
                yield _world(c, admin, client)
        finally:
            c.close()


def _world(c: Container, admin: str, client: TestClient) -> World:
    prod = monitored(c, conditions=[CONDITION])
    profile = profile_of(model_version=prod.model)
    upload = {"profile": profile.to_dict(), "source": {"name": "r", "sha256": "a" * 64}}
    with c.uow() as uow:
        monitoring.set_reference(uow, SYSTEM_ACTOR, prod.model, ProfileUpload.model_validate(upload))
    stager = app_key(c, "stager")
    body = {"model": prod.model, "env": "staging", "purposes": ["credit-scoring"], "callers": ["app:stager"],
            "days": 30, "conditions": [CONDITION]}  # fmt: skip
    with c.uow() as uow:
        staging = licenses.request(uow, user(c, "req-stg", "ml-engineer"), LicenseCreate.model_validate(body))
    approve(c, staging.id)
    for name, env in (("credit-prod", "production"), ("credit-staging", "staging")):
        dep = DeploymentCreate(name=name, model=prod.model, upstream="http://127.0.0.1:1", env=env)
        with c.uow() as uow:
            deployments.add(uow, SYSTEM_ACTOR, dep, allow=c.settings.upstream_allowlist)
    drifted = sketch_doc(profile, 3000, seed=7, shift=3.0)
    r = client.post(f"{API}/deployments/credit-prod/capture", json={**_span(), "sketch": drifted},
                    headers=bearer(prod.app_key))  # fmt: skip
    assert r.status_code == 201, r.text
    assert _state(c, prod.license_id) == "suspended"
    keys = {"app": prod.app_key, "stager": stager}
    return World(c, admin, client, prod.model, prod.license_id, staging.id, keys, drifted, r.json()["rows"])


Mutate = Callable[[World, dict[str, Any]], dict[str, Any]]


def _negated(w: World, body: dict[str, Any]) -> dict[str, Any]:
    """The exact negation of the breaching sketch: merged, it would zero the window."""

    def neg(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: (v if k in ("fingerprint", "lo", "hi") else neg(v)) for k, v in x.items()}
        if isinstance(x, list):
            return [neg(v) for v in x]
        return -x if isinstance(x, int) and not isinstance(x, bool) else x

    return {**body, "sketch": neg(copy.deepcopy(w.drifted))}


def _sketch(change: Callable[[dict[str, Any]], None]) -> Mutate:
    def apply(w: World, body: dict[str, Any]) -> dict[str, Any]:
        sketch = copy.deepcopy(w.drifted)
        change(sketch)
        return {**body, "sketch": sketch}

    return apply


def _first_categorical(s: dict[str, Any]) -> list[Any]:
    return list(s["categorical"].values())[0]  # type: ignore[no-any-return]


def _set_first(value: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def change(s: dict[str, Any]) -> None:
        bins = _first_categorical(s)
        bins[0] = value(bins[0])

    return change


def _key(name: str) -> Callable[[dict[str, Any]], None]:
    def change(s: dict[str, Any]) -> None:
        s["fingerprint"] = name

    return change


@dataclass(frozen=True)
class Attack:
    name: str
    mutate: Mutate
    status: int
    code: str
    route: str = "capture"  # capture: the app through its deployment; upload: a monitor writer's file upload
    key: str = "app"
    deployment: str = "credit-prod"


def _body(**over: Any) -> Mutate:
    return lambda w, body: {**body, **over}


ATTACKS = [
    Attack("negative counts cancel the breach", _negated, 422, "invalid_sketch"),
    Attack("negative counts by upload", _negated, 422, "invalid_sketch", route="upload", key="admin"),
    Attack("one negative bin", _sketch(_set_first(lambda v: -1)), 422, "invalid_sketch"),
    Attack("fractional count", _sketch(_set_first(lambda v: v + 0.5)), 422, "invalid_sketch"),
    Attack("count as a string", _sketch(_set_first(lambda v: str(v))), 422, "invalid_sketch"),
    Attack("rows disagree with the bins", _sketch(lambda s: s.update(rows=s["rows"] * 10)), 422, "invalid_sketch"),
    Attack("count past int64 (was a 500)", _sketch(_set_first(lambda v: 2**64)), 422, "count_overflow"),
    Attack("rows past int64", _sketch(lambda s: s.update(rows=10**30)), 422, "count_overflow"),
    Attack("bins of another size", _sketch(lambda s: _first_categorical(s).append(0)), 422, "invalid_sketch"),
    Attack("extra column", _sketch(lambda s: s["categorical"].update(x=[1])), 422, "invalid_sketch"),
    Attack("another profile's sketch", _sketch(_key("f" * 64)), 422, "profile_mismatch"),
    Attack("sketch is a list", _body(sketch=[1, 2]), 422, "validation_failed"),
    Attack(
        "window far in the future hides the breach",
        _body(start="2030-01-01T00:00:00Z", end="2030-01-02T00:00:00Z"),
        422,
        "window_in_future",
    ),
    Attack(
        "future window by upload",
        _body(start="2030-01-01T00:00:00Z", end="2030-01-02T00:00:00Z"),
        422,
        "window_in_future",
        route="upload",
        key="admin",
    ),
    Attack("window off the grid", _body(start="2026-11-01T00:07:00Z"), 422, "window_misaligned"),
    Attack("naive times", _body(start="2026-11-01T00:00:00", end="2026-11-02T00:00:00"), 422, "validation_failed"),
    Attack(
        "end before start", _body(start="2026-11-02T00:00:00Z", end="2026-11-01T00:00:00Z"), 422, "validation_failed"
    ),
    Attack("unknown field", _body(env="production"), 422, "validation_failed"),
    Attack("staging app into production windows", lambda w, b: b, 403, "caller_not_in_scope", key="stager"),
    Attack(
        "staging app dilutes through staging: only staging's window changes",
        lambda w, b: {**b, "sketch": sketch_doc(profile_of(model_version=w.model), 50_000, seed=3)},
        201,
        "",
        key="stager",
        deployment="credit-staging",
    ),
]


def _breaches(w: World) -> list[dict[str, Any]]:
    system, version = w.model.split("@")
    r = w.client.get(f"{API}/monitoring/systems/{system}/versions/{version}/breaches")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _status(w: World) -> dict[str, Any]:
    system, version = w.model.split("@")
    r = w.client.get(f"{API}/monitoring/systems/{system}/versions/{version}/status")
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack(world: World, attack: Attack) -> None:
    w = world
    container, admin_key = w.container, w.admin_key
    before_breaches = _breaches(w)
    assert before_breaches and _status(w)["breached"]
    body = attack.mutate(w, {**_span(), "sketch": w.drifted})
    key = admin_key if attack.key == "admin" else w.keys[attack.key]
    if attack.route == "upload":
        system, version = w.model.split("@")
        url = f"{API}/monitoring/systems/{system}/versions/{version}/windows"
        body = {**body, "source": {"name": "w.parquet", "sha256": "b" * 64}}
    else:
        url = f"{API}/deployments/{attack.deployment}/capture"
    r = w.client.post(url, json=body, headers=bearer(key))
    assert r.status_code == attack.status, r.text
    if attack.code:
        problem = r.json()
        assert problem["code"] == attack.code, problem
        assert problem.get("detail"), problem
    # the breach stands: the window's counts, /breaches, the status and the license
    after = _status(w)
    assert after["breached"] and after["window"]["rows"] == w.window_rows
    assert after["window"]["start"].startswith("2026-11-01")
    assert len(_breaches(w)) == len(before_breaches)
    assert _state(container, w.license_id) == "suspended"
    if attack.status == 201:
        doc = r.json()
        assert doc["env"] == "staging" and all(ch["license"] == w.staging_id for ch in doc["checks"])


def test_a_correction_is_visible_in_the_window_history(world: World) -> None:
    w = world
    admin_key = w.admin_key
    system, version = w.model.split("@")
    url = f"{API}/monitoring/systems/{system}/versions/{version}/windows"
    prof = profile_of(model_version=w.model)
    source = {"name": "day2.parquet", "sha256": "c" * 64}
    first = {**_span(1), "sketch": sketch_doc(prof, 2000, seed=21), "source": source}
    r = w.client.post(url, json=first, headers=bearer(admin_key))
    assert r.status_code == 201, r.text
    fixed = {**_span(1), "sketch": sketch_doc(prof, 1500, seed=22), "source": source}  # same file, corrected
    r = w.client.post(url, json=fixed, headers=bearer(admin_key))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["rows"] == 1500
    merged, replaced = doc["contributions"]
    assert merged["action"] == "merge" and merged["rows"] == 2000
    assert replaced["action"] == "replace" and replaced["part_rows_before"] == 2000 and replaced["rows"] == 1500
    assert replaced["replaced_sha256"] == merged["sketch_sha256"]
