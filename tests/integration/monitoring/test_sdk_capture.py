"""SDK capture: an in-process model under `@governed(capture=...)` is monitored like one behind the gateway — calls
counted into sketches in the caller's process (only counts leave it), merged into the caller's part of the window,
conditions checked, a breach suspends the license and the next governed call is refused."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from charter.audit.tables import AuditEntryRow
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.guard import Capture, Guard, LicenseDenied
from charter.guard.capture import as_rows, call_features, prediction_doc
from charter.guard.local import LocalDecider
from charter.licenses import service as licenses
from charter.monitoring import service
from charter.server import Dispatcher
from tests.conftest import bearer
from tests.integration.monitoring.support import Monitored, sdk_world, table
from tests.support.builders import app_key

FEATURES = ("age", "income", "region", "gender")
T = 1_764_000_000.0  # a past hour: windows may not end more than one window from now


class Clock:
    def __init__(self) -> None:
        self.now = T + 1

    def __call__(self) -> float:
        return self.now


def _model(c: Container, world: Monitored, clock: Clock) -> tuple[Guard, Any]:
    decider = LocalDecider(c, world.app_key)
    capture = Capture("credit-sdk", decider, background=False, fold_rows=500, clock=clock)
    guard = Guard("credit-sdk", purpose="credit-scoring", decider=decider, capture=capture)

    @guard
    def predict(rows: list[dict[str, Any]]) -> np.ndarray:
        return np.array([1 / (1 + np.exp(-(r["age"] - 40) / 10)) for r in rows])

    return guard, predict


def _batches(n: int, *, seed: int, shift: float = 0.0) -> list[list[dict[str, Any]]]:
    rows = [{k: r[k] for k in FEATURES} for r in table(n, seed=seed, shift=shift).to_pylist()]
    return [rows[i : i + 100] for i in range(0, n, 100)]


def test_sdk_calls_are_monitored_and_a_breach_suspends_the_license(container: Container) -> None:
    world = sdk_world(container)
    clock = Clock()
    guard, predict = _model(container, world, clock)
    for batch in _batches(1500, seed=2):
        assert len(predict(batch)) == len(batch)
    assert guard.capture is not None and guard.capture.flush() == 1
    with container.uow(write=False) as uow:
        window = service.list_windows(uow, SYSTEM_ACTOR, world.model, limit=1)[0]
    assert window.rows == 1500 and window.sources == ["sdk:app:loan-portal"]
    assert window.start.timestamp() == T - T % container.settings.monitor_window_s  # the gateway's windows
    with container.uow(write=False) as uow:
        assert licenses.get(uow, SYSTEM_ACTOR, world.license_id).state == "active"
        entry = uow.session.scalars(select(AuditEntryRow.body).where(AuditEntryRow.action == "monitoring.window"))
        docs = [json.loads(bytes(b)) for b in entry]
    assert [d["actor"] for d in docs] == ["app:loan-portal"]
    assert "income" not in json.dumps(docs[0]["details"])  # counts, not values

    clock.now += container.settings.monitor_window_s  # the next window: income drifts by 3 σ
    for batch in _batches(1500, seed=3, shift=3):
        predict(batch)
    assert guard.capture.flush() == 1
    with container.uow(write=False) as uow:
        assert licenses.get(uow, SYSTEM_ACTOR, world.license_id).state == "suspended"
    with pytest.raises(LicenseDenied) as refused:
        predict(_batches(100, seed=4)[0])
    assert refused.value.code == "license_suspended"


def test_the_same_window_merges_flushes(container: Container) -> None:
    world = sdk_world(container)
    clock = Clock()
    guard, predict = _model(container, world, clock)
    assert guard.capture is not None
    for n in range(3):
        predict(_batches(100, seed=10 + n)[0])
        assert guard.capture.flush() == 1
    with container.uow(write=False) as uow:
        windows = service.list_windows(uow, SYSTEM_ACTOR, world.model, limit=5)
    assert [w.rows for w in windows] == [300]


def test_without_a_reference_profile_calls_still_run_and_nothing_is_sent(container: Container) -> None:
    world = sdk_world(container, profile=False)
    guard, predict = _model(container, world, Clock())
    assert len(predict(_batches(100, seed=1)[0])) == 100
    assert guard.capture is not None and guard.capture.flush() == 0 and guard.capture.captured == 0


def test_counts_that_cannot_be_sent_are_kept_for_the_next_flush(container: Container) -> None:
    world = sdk_world(container)
    decider = LocalDecider(container, world.app_key)

    class Flaky:
        """The real client, except that the first send fails as when the server is unreachable."""

        fail = 1

        def capture_target(self, deployment: str) -> dict[str, Any]:
            return decider.capture_target(deployment)

        def submit_capture(self, deployment: str, start: datetime, end: datetime, sketch: dict[str, Any]) -> None:
            if self.fail:
                self.fail -= 1
                raise ConnectionError("unreachable")
            decider.submit_capture(deployment, start, end, sketch)

    capture = Capture("credit-sdk", Flaky(), background=False, clock=Clock())
    for batch in _batches(300, seed=1):
        capture.observe(batch, [0.5] * len(batch))
    assert capture.flush() == 0
    assert capture.flush() == 1
    with container.uow(write=False) as uow:
        assert service.list_windows(uow, SYSTEM_ACTOR, world.model, limit=1)[0].rows == 300


def test_a_call_s_data_in_every_shape() -> None:
    rows = [{"age": 30, "income": 1.0}, {"age": 50, "income": 2.0}]
    assert as_rows(rows[0]) == rows[0]
    assert as_rows(rows) == rows
    assert as_rows(pa.Table.from_pylist(rows)) == rows
    pandas = pytest.importorskip("pandas")
    assert as_rows(pandas.DataFrame(rows)) == rows
    assert as_rows([1, 2]) is None and as_rows("x") is None and as_rows(np.zeros(3)) is None
    assert call_features((object(), rows), {}) == rows  # a method's self is skipped
    assert call_features((), {"age": 30}) == {"age": 30}
    assert prediction_doc(np.array([0.1, 0.2]), "score") == {"score": [0.1, 0.2]}
    assert prediction_doc(np.array([[0.1], [0.2]]), "score") == {"score": [0.1, 0.2]}
    assert prediction_doc(0.7, "score") == {"score": 0.7}
    assert prediction_doc({"score": 0.7, "model": "x"}, "score") == {"score": 0.7, "model": "x"}


def test_capture_routes_need_the_right_to_call_the_deployment(container: Container, admin_key: str) -> None:
    world = sdk_world(container)
    other = app_key(container, "other-app")
    with TestClient(Dispatcher(container)) as api:
        url = "/api/v1/deployments/credit-sdk/capture"
        ok = api.get(url, headers=bearer(world.app_key))
        assert ok.status_code == 200, ok.text
        assert ok.json()["digest"] == world.digest and ok.json()["profile"]["profile"]["spec"]["numeric"]
        foreign = api.get(url, headers=bearer(other))  # may call models, but no license of this one names it
        assert foreign.status_code == 403 and foreign.json()["code"] == "caller_not_in_scope", foreign.text
        bad = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-01T01:00:00Z", "sketch": {"fingerprint": "x"}}
        r = api.post(url, json=bad, headers=bearer(world.app_key))
        assert r.status_code in (400, 409, 422) and r.json()["code"] == "profile_mismatch", r.text
        missing = api.get("/api/v1/deployments/nope/capture", headers=bearer(world.app_key))
        assert missing.status_code == 404 and missing.json()["code"] == "deployment_not_found", missing.text
        assert api.get(url, headers=bearer(admin_key)).status_code == 403  # not an app that calls models


def test_an_async_model_is_captured_too(container: Container) -> None:
    world = sdk_world(container)
    decider = LocalDecider(container, world.app_key)
    capture = Capture("credit-sdk", decider, background=False, clock=Clock())
    guard = Guard("credit-sdk", purpose="credit-scoring", decider=decider, capture=capture)

    @guard
    async def predict(rows: list[dict[str, Any]]) -> list[float]:
        return [0.5] * len(rows)

    async def run() -> None:
        for batch in _batches(200, seed=1):
            await predict(batch)

    asyncio.run(run())
    assert capture.flush() == 1
    with container.uow(write=False) as uow:
        assert service.list_windows(uow, SYSTEM_ACTOR, world.model, limit=1)[0].rows == 200
